package file

import (
	"bytes"
	"fmt"
	"strings"
)

// envFormat reads and writes env files as a POSIX shell sources them, which
// the common dotenv readers agree with for the values written here:
//
//	[export] NAME=value          # a bare value ends at a blank and "#"
//	NAME='value'                 # single quotes keep every byte as it is
//	NAME="value"                 # in double quotes, \ escapes " \ $ and `
//
// A new value is written bare when it holds only characters no reader
// treats specially, and in double quotes otherwise.
type envFormat struct{}

// envBare lists the characters besides letters and digits that a bare value
// may hold.
const envBare = "_-.,:/@%+="

func (envFormat) find(content []byte, key string) (*match, error) {
	es, err := envEntries(content)
	if err != nil {
		return nil, err
	}
	return findEntry(es, key)
}

func (envFormat) verify(before, after []byte, _ string, m *match, value []byte) error {
	return verifyEntries(envEntries, before, after, m, value)
}

// envEntries returns every assignment of an env file, in order.
func envEntries(content []byte) ([]entry, error) {
	var es []entry
	pos, lineNo := bomLen(content), 1
	for pos < len(content) {
		end, textEnd := lineEnd(content, pos)
		next := end + 1
		name, vstart, ok := envAssignment(content[pos:textEnd])
		if ok {
			m, err := envValue(content, pos+vstart, textEnd)
			if err != nil {
				return nil, fmt.Errorf("%w on line %d: %w", errSyntax, lineNo, err)
			}
			es = append(es, entry{name: name, m: m})
			next, _ = lineEnd(content, m.end)
			next++
		}
		lineNo += bytes.Count(content[pos:min(next, len(content))], []byte("\n"))
		pos = next
	}
	return es, nil
}

// envAssignment parses the start of an assignment line: the variable's name
// and the offset where its value starts.
func envAssignment(l []byte) (name string, vstart int, ok bool) {
	i := skipBlanks(l, 0)
	if i == len(l) || l[i] == '#' {
		return "", 0, false
	}
	if rest := l[i:]; bytes.HasPrefix(rest, []byte("export")) && len(rest) > 6 && isBlank(rest[6]) {
		i = skipBlanks(l, i+6)
	}
	j := i
	for j < len(l) && l[j] != '=' && !isBlank(l[j]) {
		j++
	}
	k := skipBlanks(l, j)
	if j == i || k == len(l) || l[k] != '=' {
		return "", 0, false
	}
	return string(l[i:j]), skipBlanks(l, k+1), true
}

// envValue reads the value that starts at p on a line whose text ends at
// textEnd. A quoted value may run over several lines.
func envValue(content []byte, p, textEnd int) (*match, error) {
	if p >= textEnd {
		return &match{start: p, end: p, value: []byte{}}, nil
	}
	switch content[p] {
	case '"':
		return envDoubleQuoted(content, p)
	case '\'':
		q := bytes.IndexByte(content[p+1:], '\'')
		if q < 0 {
			return nil, fmt.Errorf("unterminated single quote")
		}
		end := p + 1 + q
		return &match{start: p, end: end + 1, value: content[p+1 : end], quote: '\''}, nil
	default:
		e := trimBlanksRight(content, commentStart(content[:textEnd], p, "#"))
		return &match{start: p, end: e, value: content[p:e]}, nil
	}
}

// envDoubleQuoted reads a double-quoted value starting at p.
func envDoubleQuoted(content []byte, p int) (*match, error) {
	val := []byte{}
	for i := p + 1; i < len(content); i++ {
		switch c := content[i]; {
		case c == '"':
			return &match{start: p, end: i + 1, value: val, quote: '"'}, nil
		case c == '\\' && i+1 < len(content) && strings.IndexByte("\"\\$`", content[i+1]) >= 0:
			val = append(val, content[i+1])
			i++
		case c == '\\' && i+1 < len(content) && content[i+1] == '\n':
			i++
		default:
			val = append(val, c)
		}
	}
	return nil, fmt.Errorf("unterminated double quote")
}

func (envFormat) encode(value []byte, _ *match) ([]byte, error) {
	if hasControl(value) {
		return nil, fmt.Errorf("%w: it holds a line break, a control character or invalid UTF-8",
			errUnencodable)
	}
	if isBareSafe(value, envBare) {
		return bytes.Clone(value), nil
	}
	out := []byte{'"'}
	for _, c := range value {
		if strings.IndexByte("\"\\$`", c) >= 0 {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return append(out, '"'), nil
}

// isBareSafe reports whether value is not empty and holds only ASCII
// letters, digits and the characters in extra.
func isBareSafe(value []byte, extra string) bool {
	if len(value) == 0 {
		return false
	}
	for _, c := range value {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(extra, c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// bomLen returns 3 when content starts with a UTF-8 byte order mark.
func bomLen(content []byte) int {
	if bytes.HasPrefix(content, []byte("\ufeff")) {
		return 3
	}
	return 0
}

// lineEnd returns the index of the "\n" that ends the line holding pos (or
// len(content)) and the end of the line's text, before any "\r".
func lineEnd(content []byte, pos int) (end, textEnd int) {
	end = pos
	for end < len(content) && content[end] != '\n' {
		end++
	}
	textEnd = end
	if textEnd > pos && content[textEnd-1] == '\r' {
		textEnd--
	}
	return end, textEnd
}
