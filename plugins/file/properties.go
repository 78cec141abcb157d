package file

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// propertiesFormat reads and writes Java properties files by the rules of
// java.util.Properties.load: comments start with "#" or "!", a key ends at
// an unescaped "=", ":" or blank, a line ending in an odd number of
// backslashes goes on on the next, and a backslash escapes the character
// after it, with \t, \n, \r, \f and \uXXXX for what cannot be typed. The
// file is read as UTF-8. A new value is written as Properties.store writes
// one, with every character outside printable ASCII as \uXXXX, so that it
// reads the same in UTF-8 and in ISO 8859-1.
type propertiesFormat struct{}

// propLine is one logical line of a properties file: its natural lines
// joined, with the file offset of each of its bytes.
type propLine struct {
	text []byte
	offs []int
	// end is the file offset where the last natural line's text ends.
	end int
}

func (propertiesFormat) find(content []byte, key string) (*match, error) {
	es, err := propEntries(content)
	if err != nil {
		return nil, err
	}
	return findEntry(es, key)
}

func (propertiesFormat) verify(before, after []byte, _ string, m *match, value []byte) error {
	return verifyEntries(propEntries, before, after, m, value)
}

// propEntries returns every entry of a properties file, in order.
func propEntries(content []byte) ([]entry, error) {
	var es []entry
	for n, pl := range propLines(content) {
		k, vs := propSplit(pl.text)
		name, err := propUnescape(pl.text[:k])
		if err != nil {
			return nil, fmt.Errorf("%w in the key of entry %d: %w", errSyntax, n+1, err)
		}
		value, err := propUnescape(pl.text[vs:])
		if err != nil {
			return nil, fmt.Errorf("%w in the value of entry %d: %w", errSyntax, n+1, err)
		}
		m := &match{start: pl.end, end: pl.end, value: value}
		switch {
		case vs < len(pl.text):
			m.start = pl.offs[vs]
		case k == len(pl.text):
			m.lead = []byte(" = ")
		}
		es = append(es, entry{name: string(name), m: m})
	}
	return es, nil
}

// propLines returns the logical lines of a properties file that are
// neither blank nor comments.
func propLines(content []byte) []propLine {
	var out []propLine
	pos := bomLen(content)
	for pos < len(content) {
		pos = propSkipBlanks(content, pos)
		switch {
		case pos == len(content):
		case content[pos] == '\n' || content[pos] == '\r':
			pos = propNextLine(content, pos)
		case content[pos] == '#' || content[pos] == '!':
			pos = propNextLine(content, propEOL(content, pos))
		default:
			var pl propLine
			pl, pos = propLogical(content, pos)
			out = append(out, pl)
		}
	}
	return out
}

// propLogical reads the logical line starting at pos and returns it with
// the offset after it.
func propLogical(content []byte, pos int) (propLine, int) {
	var pl propLine
	for {
		e := propEOL(content, pos)
		slashes := 0
		for k := e - 1; k >= pos && content[k] == '\\'; k-- {
			slashes++
		}
		textEnd := e - slashes%2
		for i := pos; i < textEnd; i++ {
			pl.text = append(pl.text, content[i])
			pl.offs = append(pl.offs, i)
		}
		pl.end = e
		next := propNextLine(content, e)
		if slashes%2 == 0 || e == len(content) {
			return pl, next
		}
		pos = propSkipBlanks(content, next)
	}
}

// propSplit returns where the key ends in a logical line and where the
// value starts.
func propSplit(t []byte) (keyEnd, valueStart int) {
	escaped, sep := false, false
	keyEnd = len(t)
	valueStart = len(t)
	for i, c := range t {
		if !escaped && (c == '=' || c == ':' || propBlank(c)) {
			keyEnd, valueStart, sep = i, i+1, c == '=' || c == ':'
			break
		}
		escaped = c == '\\' && !escaped
	}
	for ; valueStart < len(t); valueStart++ {
		c := t[valueStart]
		if propBlank(c) {
			continue
		}
		if sep || (c != '=' && c != ':') {
			break
		}
		sep = true
	}
	return keyEnd, valueStart
}

// propUnescape resolves the escapes of a key or a value.
func propUnescape(b []byte) ([]byte, error) {
	var units []uint16
	for i := 0; i < len(b); {
		var err error
		if b[i] == '\\' {
			units, i, err = propEscape(units, b, i+1)
			if err != nil {
				return nil, err
			}
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		units = utf16.AppendRune(units, r)
		i += n
	}
	return []byte(string(utf16.Decode(units))), nil
}

// propEscapes maps the letters of the escapes for control characters to
// those characters.
var propEscapes = map[byte]uint16{'t': '\t', 'n': '\n', 'r': '\r', 'f': '\f'}

// propEscape appends to units what the escape whose letter is at b[i]
// stands for, and returns the offset after the escape.
func propEscape(units []uint16, b []byte, i int) ([]uint16, int, error) {
	if i == len(b) {
		return units, i, nil
	}
	if u, ok := propEscapes[b[i]]; ok {
		return append(units, u), i + 1, nil
	}
	if b[i] != 'u' {
		r, n := utf8.DecodeRune(b[i:])
		return utf16.AppendRune(units, r), i + n, nil
	}
	if i+5 > len(b) {
		return nil, 0, fmt.Errorf("malformed \\u escape")
	}
	u, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("malformed \\u escape")
	}
	return append(units, uint16(u)), i + 5, nil
}

func (propertiesFormat) encode(value []byte, _ *match) ([]byte, error) {
	if !utf8.Valid(value) {
		return nil, fmt.Errorf("%w: it is not valid UTF-8", errUnencodable)
	}
	var out []byte
	for i, r := range string(value) {
		out = propAppendEscaped(out, r, i == 0)
	}
	return out, nil
}

// propAppendEscaped appends r to out as Properties.store writes a value's
// character; first says whether r starts the value.
func propAppendEscaped(out []byte, r rune, first bool) []byte {
	switch {
	case r == ' ' && first:
		return append(out, '\\', ' ')
	case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
		return append(out, '\\', byte(r))
	case r == '\t':
		return append(out, '\\', 't')
	case r == '\n':
		return append(out, '\\', 'n')
	case r == '\r':
		return append(out, '\\', 'r')
	case r == '\f':
		return append(out, '\\', 'f')
	case r >= 0x20 && r <= 0x7e:
		return append(out, byte(r))
	}
	for _, u := range utf16.AppendRune(nil, r) {
		out = fmt.Appendf(out, "\\u%04X", u)
	}
	return out
}

// propBlank reports whether c is a blank in a properties file.
func propBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// propSkipBlanks returns the first offset at or after pos that is not a
// blank.
func propSkipBlanks(content []byte, pos int) int {
	for pos < len(content) && propBlank(content[pos]) {
		pos++
	}
	return pos
}

// propEOL returns the offset of the line terminator at or after pos, or
// len(content).
func propEOL(content []byte, pos int) int {
	for pos < len(content) && content[pos] != '\n' && content[pos] != '\r' {
		pos++
	}
	return pos
}

// propNextLine returns the offset after the line terminator at eol.
func propNextLine(content []byte, eol int) int {
	switch {
	case eol >= len(content):
		return len(content)
	case content[eol] == '\r' && eol+1 < len(content) && content[eol+1] == '\n':
		return eol + 2
	default:
		return eol + 1
	}
}
