package file

import (
	"bytes"
	"fmt"
	"strings"
)

// iniFormat reads and writes INI files:
//
//	; a comment, as is a line starting with #
//	[section]
//	name = value                 # ":" works as "=" too
//	name = "value"               # in double quotes, \ escapes " and \
//
// A bare value ends at a ";" or "#" after a blank, and its outer blanks are
// not part of it. A key is "name" for an entry before any section and
// "section.name" for one in a section; a plain "name" also finds an entry
// in a section when only one section has it. A new value is written bare
// when no reader could take it differently, and in double quotes otherwise.
type iniFormat struct{}

func (iniFormat) find(content []byte, key string) (*match, error) {
	es, _ := iniEntries(content)
	var exact, bare []*match
	for _, e := range es {
		switch {
		case e.name == key:
			exact = append(exact, e.m)
		case e.bare == key && !strings.Contains(key, "."):
			bare = append(bare, e.m)
		}
	}
	if len(exact) == 0 && len(bare) > 1 {
		return nil, fmt.Errorf("%w: %d sections have it; name one as section.key",
			errDuplicateKey, len(bare))
	}
	if len(exact) == 0 {
		return only(bare)
	}
	return only(exact)
}

func (iniFormat) verify(before, after []byte, _ string, m *match, value []byte) error {
	return verifyEntries(iniEntries, before, after, m, value)
}

// iniEntries returns every entry of an INI file, in order, named
// section.name, or name before any section.
func iniEntries(content []byte) ([]entry, error) {
	var out []entry
	section := ""
	for _, l := range lines(content) {
		i := skipBlanks(l.text, 0)
		switch {
		case i == len(l.text) || l.text[i] == ';' || l.text[i] == '#':
			continue
		case l.text[i] == '[':
			section = iniSection(l.text[i+1:])
			continue
		}
		d := bytes.IndexAny(l.text, "=:")
		if d < 0 {
			continue
		}
		name := string(bytes.TrimSpace(l.text[i:d]))
		m := iniValue(l.text, skipBlanks(l.text, d+1))
		m.start += l.start
		m.end += l.start
		full := name
		if section != "" {
			full = section + "." + name
		}
		out = append(out, entry{name: full, bare: name, m: m})
	}
	return out, nil
}

// iniSection returns the name of a section from the text after its "[".
func iniSection(rest []byte) string {
	if j := bytes.IndexByte(rest, ']'); j >= 0 {
		rest = rest[:j]
	}
	return string(bytes.TrimSpace(rest))
}

// iniValue reads the value starting at p in l, with offsets within l.
func iniValue(l []byte, p int) *match {
	if p < len(l) && l[p] == '"' {
		if m := iniQuoted(l, p); m != nil {
			return m
		}
	}
	e := trimBlanksRight(l, commentStart(l, p, ";#"))
	e = max(e, p)
	return &match{start: p, end: e, value: l[p:e]}
}

// iniQuoted reads a double-quoted value at p, or returns nil when the
// quote does not close on the line.
func iniQuoted(l []byte, p int) *match {
	val := []byte{}
	for i := p + 1; i < len(l); i++ {
		switch c := l[i]; {
		case c == '"':
			return &match{start: p, end: i + 1, value: val, quote: '"'}
		case c == '\\' && i+1 < len(l) && (l[i+1] == '"' || l[i+1] == '\\'):
			val = append(val, l[i+1])
			i++
		default:
			val = append(val, c)
		}
	}
	return nil
}

func (iniFormat) encode(value []byte, _ *match) ([]byte, error) {
	if hasControl(value) {
		return nil, fmt.Errorf("%w: it holds a line break, a control character or invalid UTF-8",
			errUnencodable)
	}
	if !iniNeedsQuotes(value) {
		return bytes.Clone(value), nil
	}
	out := []byte{'"'}
	for _, c := range value {
		if c == '"' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return append(out, '"'), nil
}

// iniNeedsQuotes reports whether value would read differently bare: it is
// empty, has outer blanks, starts with a quote or holds a comment mark.
func iniNeedsQuotes(value []byte) bool {
	if len(value) == 0 || isBlank(value[0]) || isBlank(value[len(value)-1]) {
		return true
	}
	return value[0] == '"' || value[0] == '\'' || bytes.ContainsAny(value, ";#")
}
