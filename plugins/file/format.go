package file

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// The errors a format returns when it looks for a key. The driver turns
// them into reasons; none of them carries a value from the file.
var (
	// errKeyNotFound means the file has no entry for the key.
	errKeyNotFound = errors.New("key not found")
	// errDuplicateKey means the key has more than one entry, so which one
	// a reader of the file uses is not certain.
	errDuplicateKey = errors.New("key appears more than once")
	// errSyntax means the file is not valid in its format.
	errSyntax = errors.New("syntax error")
	// errLayout means the entry is written in a way the driver does not
	// edit, such as an alias or a value that is not a single scalar.
	errLayout = errors.New("unsupported layout")
	// errUnencodable means the new value cannot be written in the format.
	errUnencodable = errors.New("value cannot be written in this format")
)

// match is where a key's value sits in a file and what it is.
type match struct {
	// start and end are the byte offsets of the value's text, quotes and
	// escapes included, that a new value replaces.
	start, end int
	// lead is text to write before the new value, such as a separator
	// the old, empty, value did without.
	lead []byte
	// keep is text within start and end to write again after the new
	// value, such as a comment that sat there.
	keep []byte
	// value is the value as a reader of the file sees it.
	value []byte
	// quote is the quote character the value was written with, or 0.
	quote byte
	// tag is the YAML tag the value resolved to; empty for other formats.
	tag string
}

// format reads and writes one kind of configuration file.
type format interface {
	// find returns where key's value is in content.
	find(content []byte, key string) (*match, error)
	// encode returns value as the text to write in place of old's.
	encode(value []byte, old *match) ([]byte, error)
	// verify checks that after reads as before with the value m found for
	// key replaced by value, and nothing else changed.
	verify(before, after []byte, key string, m *match, value []byte) error
}

// entry is one key and value of a file whose format is a list of them.
type entry struct {
	// name is the entry's key.
	name string
	// bare is the name within its section, for formats that have them.
	bare string
	m    *match
}

// formats maps each format's name to its implementation.
var formats = map[string]format{
	"env":        envFormat{},
	"ini":        iniFormat{},
	"properties": propertiesFormat{},
	"yaml":       yamlFormat{},
}

// formatNames lists the formats' names, for messages.
const formatNames = "env, ini, properties, yaml"

// formatByExt maps file extensions to the format they imply.
var formatByExt = map[string]string{
	".env":        "env",
	".ini":        "ini",
	".conf":       "ini",
	".properties": "properties",
	".yaml":       "yaml",
	".yml":        "yaml",
}

// formatFor returns the format named name or, when name is empty, the one
// path's extension implies.
func formatFor(name, path string) (format, error) {
	if name == "" {
		name = formatByExt[strings.ToLower(filepath.Ext(path))]
		if name == "" && strings.HasPrefix(filepath.Base(path), ".env") {
			name = "env"
		}
		if name == "" {
			return nil, fmt.Errorf("cannot tell the format from %q; set format to one of %s",
				filepath.Base(path), formatNames)
		}
	}
	f, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("unknown format %q; want one of %s", name, formatNames)
	}
	return f, nil
}

// splice returns content with m's value replaced by enc.
func splice(content []byte, m *match, enc []byte) []byte {
	out := make([]byte, 0, len(content)-(m.end-m.start)+len(m.lead)+len(enc)+len(m.keep))
	out = append(out, content[:m.start]...)
	out = append(out, m.lead...)
	out = append(out, enc...)
	out = append(out, m.keep...)
	return append(out, content[m.end:]...)
}

// hasControl reports whether b holds a control character other than tab,
// or is not valid UTF-8.
func hasControl(b []byte) bool {
	if !utf8.Valid(b) {
		return true
	}
	for _, r := range string(b) {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return true
		}
	}
	return false
}

// line is one line of a file: its text without the line break, and the
// offset of its first byte.
type line struct {
	text  []byte
	start int
}

// lines splits content into lines, dropping each line's "\n" or "\r\n"
// and a UTF-8 byte order mark at the start.
func lines(content []byte) []line {
	var out []line
	for pos := bomLen(content); pos < len(content); {
		end, textEnd := lineEnd(content, pos)
		out = append(out, line{text: content[pos:textEnd], start: pos})
		pos = end + 1
	}
	return out
}

// isBlank reports whether c is a space or a tab.
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// skipBlanks returns the index of the first byte at or after i in b that is
// not a space or a tab.
func skipBlanks(b []byte, i int) int {
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	return i
}

// trimBlanksRight returns the end of b[:end] without trailing blanks.
func trimBlanksRight(b []byte, end int) int {
	for end > 0 && isBlank(b[end-1]) {
		end--
	}
	return end
}

// commentStart returns the index in b, from i, of a comment that starts
// with one of marks after a blank, or len(b) when there is none.
func commentStart(b []byte, i int, marks string) int {
	for ; i < len(b); i++ {
		if strings.IndexByte(marks, b[i]) >= 0 && i > 0 && isBlank(b[i-1]) {
			return i
		}
	}
	return len(b)
}

// findEntry returns the one entry named key.
func findEntry(es []entry, key string) (*match, error) {
	var ms []*match
	for _, e := range es {
		if e.name == key {
			ms = append(ms, e.m)
		}
	}
	return only(ms)
}

// verifyEntries checks, with the entries that list reads, that after holds
// the entries of before in the same order and with the same values, but
// for the one at m, which must hold value.
func verifyEntries(list func([]byte) ([]entry, error), before, after []byte,
	m *match, value []byte) error {
	b, err := list(before)
	if err != nil {
		return err
	}
	a, err := list(after)
	if err != nil {
		return fmt.Errorf("reading the edited file: %w", err)
	}
	if len(a) != len(b) {
		return fmt.Errorf("the edited file has %d entries, not %d", len(a), len(b))
	}
	for i := range b {
		want := b[i].m.value
		if b[i].m.start == m.start {
			want = value
		}
		if a[i].name != b[i].name || !bytes.Equal(a[i].m.value, want) {
			return fmt.Errorf("entry %d reads differently after the edit", i+1)
		}
	}
	return nil
}

// only returns the one match in ms, or the error for none or several.
func only(ms []*match) (*match, error) {
	switch len(ms) {
	case 0:
		return nil, errKeyNotFound
	case 1:
		return ms[0], nil
	default:
		return nil, fmt.Errorf("%w (%d times)", errDuplicateKey, len(ms))
	}
}
