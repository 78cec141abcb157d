package file

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yamlFormat reads YAML files with gopkg.in/yaml.v3 and edits them as text:
// the scalar that holds the value is replaced in place, so every other
// byte, comments and layout included, stays as it was. A key is a dotted
// path of mapping keys and sequence indexes (db.password, users.0.pin); a
// mapping key that itself holds dots is found too. Only the first document
// of a file is read.
//
// A new value keeps a plain scalar plain when it reads back as the same
// type, keeps single quotes when it can, and is double-quoted otherwise.
type yamlFormat struct{}

// yamlHit is a scalar found for a key, with what is needed to find its
// text: its indentation and whether it sits in a flow collection.
type yamlHit struct {
	node   *yaml.Node
	indent int
	flow   bool
}

func (yamlFormat) find(content []byte, key string) (*match, error) {
	root, err := yamlParse(content)
	if err != nil {
		return nil, err
	}
	var hits []yamlHit
	if root != nil {
		hits = yamlLookup(root, key, false)
	}
	switch {
	case len(hits) == 0:
		return nil, errKeyNotFound
	case len(hits) > 1:
		return nil, fmt.Errorf("%w (%d times)", errDuplicateKey, len(hits))
	}
	return yamlLocate(content, hits[0])
}

// yamlLineRE picks the line number out of a yaml.v3 error.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+):`)

// yamlParse returns the first document's root node, or nil for an empty
// file. Its error holds a line number at most, never the file's text.
func yamlParse(content []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%w: invalid YAML on line %s", errSyntax, m[1])
		}
		return nil, fmt.Errorf("%w: invalid YAML", errSyntax)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlLookup returns every node under n that the dotted path key names;
// flow says whether n sits in a flow collection.
func yamlLookup(n *yaml.Node, key string, flow bool) []yamlHit {
	flow = flow || n.Style&yaml.FlowStyle != 0
	var hits []yamlHit
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			hits = append(hits, yamlStep(v, k.Value, key, k.Column-1, flow)...)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			hits = append(hits, yamlStep(v, strconv.Itoa(i), key, n.Column-1, flow)...)
		}
	}
	return hits
}

// yamlStep matches one entry named name, with value v, against key.
func yamlStep(v *yaml.Node, name, key string, indent int, flow bool) []yamlHit {
	if name == key {
		return []yamlHit{{node: v, indent: indent, flow: flow}}
	}
	if rest, ok := strings.CutPrefix(key, name+"."); ok {
		return yamlLookup(v, rest, flow)
	}
	return nil
}

func (yamlFormat) verify(before, after []byte, key string, _ *match, value []byte) error {
	b, err := yamlParse(before)
	if err != nil {
		return err
	}
	a, err := yamlParse(after)
	if err != nil {
		return fmt.Errorf("reading the edited file: %w", err)
	}
	if b == nil || a == nil {
		return fmt.Errorf("the edited file has no document")
	}
	hits := yamlLookup(b, key, false)
	if len(hits) != 1 || !yamlSame(b, a, hits[0].node, value) {
		return fmt.Errorf("the edited file reads differently")
	}
	return nil
}

// yamlSame reports whether the tree a is the tree b with target's value
// replaced by value.
func yamlSame(b, a, target *yaml.Node, value []byte) bool {
	if b == target {
		return a.Kind == yaml.ScalarNode && a.Value == string(value)
	}
	same := b.Kind == a.Kind && b.Value == a.Value && b.ShortTag() == a.ShortTag() &&
		b.Anchor == a.Anchor && len(b.Content) == len(a.Content) &&
		b.HeadComment == a.HeadComment && b.LineComment == a.LineComment &&
		b.FootComment == a.FootComment
	for i := 0; same && i < len(b.Content); i++ {
		same = yamlSame(b.Content[i], a.Content[i], target, value)
	}
	return same
}

// yamlLocate finds the text of the scalar h names.
func yamlLocate(content []byte, h yamlHit) (*match, error) {
	n := h.node
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("%w: the key does not hold a single value", errLayout)
	}
	if n.Style == 0 && n.Value == "" {
		// yaml.v3 places an empty plain value at the next token.
		return nil, fmt.Errorf("%w: the key has no value; give it a quoted one", errLayout)
	}
	start, err := yamlOffset(content, n.Line, n.Column)
	if err != nil {
		return nil, err
	}
	start = yamlSkipProperties(content, start)
	m := &match{start: start, value: []byte(n.Value), tag: n.ShortTag()}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		m.quote, m.end = '"', yamlDoubleEnd(content, start)
	case n.Style&yaml.SingleQuotedStyle != 0:
		m.quote, m.end = '\'', yamlSingleEnd(content, start)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		m.end, m.keep = yamlBlockEnd(content, start, h.indent)
	default:
		m.end = yamlPlainEnd(content, start, h.flow)
		if string(content[start:m.end]) != n.Value {
			return nil, fmt.Errorf("%w: a plain value over several lines", errLayout)
		}
	}
	if m.end < 0 {
		return nil, fmt.Errorf("%w: cannot find the end of the value", errLayout)
	}
	return m, nil
}

// yamlOffset turns a 1-based line and column, as yaml.v3 counts them in
// characters, into a byte offset.
func yamlOffset(content []byte, line, col int) (int, error) {
	ls := lines(content)
	if line < 1 || line > len(ls) {
		return 0, fmt.Errorf("%w: value position out of range", errLayout)
	}
	l := ls[line-1]
	off := 0
	for c := 1; c < col; c++ {
		if off >= len(l.text) {
			return 0, fmt.Errorf("%w: value position out of range", errLayout)
		}
		_, size := utf8.DecodeRune(l.text[off:])
		off += size
	}
	return l.start + off, nil
}

// yamlSkipProperties skips an anchor and a tag written before a scalar.
func yamlSkipProperties(content []byte, p int) int {
	for p < len(content) && (content[p] == '&' || content[p] == '!') {
		for p < len(content) && !isBlank(content[p]) && content[p] != '\n' {
			p++
		}
		p = skipBlanks(content, p)
	}
	return p
}

// yamlDoubleEnd returns the offset after the double-quoted scalar at p.
func yamlDoubleEnd(content []byte, p int) int {
	for i := p + 1; i < len(content); i++ {
		switch content[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// yamlSingleEnd returns the offset after the single-quoted scalar at p.
func yamlSingleEnd(content []byte, p int) int {
	for i := p + 1; i < len(content); i++ {
		if content[i] != '\'' {
			continue
		}
		if i+1 < len(content) && content[i+1] == '\'' {
			i++
			continue
		}
		return i + 1
	}
	return -1
}

// yamlPlainEnd returns the end of the plain scalar at p on its line.
func yamlPlainEnd(content []byte, p int, flow bool) int {
	_, textEnd := lineEnd(content, p)
	e := commentStart(content[:textEnd], p, "#")
	if flow {
		if i := bytes.IndexAny(content[p:e], ",]}"); i >= 0 {
			e = p + i
		}
	}
	return max(trimBlanksRight(content, e), p)
}

// yamlBlockEnd returns the end of the block scalar whose header is at p,
// and the header's comment with the blanks before it, to keep. Its lines
// are those more indented than indent, up to the last that is not blank.
func yamlBlockEnd(content []byte, p, indent int) (int, []byte) {
	end, textEnd := lineEnd(content, p)
	h := p + 1
	for h < textEnd && !isBlank(content[h]) {
		h++
	}
	keep := bytes.Clone(content[h:textEnd])
	last := textEnd
	for pos := end + 1; pos < len(content); {
		next, te := lineEnd(content, pos)
		text := content[pos:te]
		i := skipBlanks(text, 0)
		if i < len(text) {
			if i <= indent {
				break
			}
			last = te
		}
		pos = next + 1
	}
	return last, keep
}

func (yamlFormat) encode(value []byte, old *match) ([]byte, error) {
	if !utf8.Valid(value) {
		return nil, fmt.Errorf("%w: it is not valid UTF-8", errUnencodable)
	}
	switch {
	case old.quote == 0 && yamlPlainOK(value, old.tag):
		return bytes.Clone(value), nil
	case old.quote == '\'' && yamlPrintable(value):
		return yamlSingleQuote(value), nil
	default:
		return yamlDoubleQuote(value), nil
	}
}

// yamlPlainOK reports whether value, written plain, reads back as itself
// with the tag tag. Only letters, digits and a few marks qualify.
func yamlPlainOK(value []byte, tag string) bool {
	if !isBareSafe(value, "_-.") || value[0] == '-' || value[0] == '.' {
		return false
	}
	var doc yaml.Node
	if yaml.Unmarshal(value, &doc) != nil || len(doc.Content) != 1 {
		return false
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.Value == string(value) && n.ShortTag() == tag
}

// yamlPrintable reports whether value holds only printable characters.
func yamlPrintable(value []byte) bool {
	for _, r := range string(value) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// yamlSingleQuote writes value in single quotes, doubling each quote.
func yamlSingleQuote(value []byte) []byte {
	out := []byte{'\''}
	out = append(out, bytes.ReplaceAll(value, []byte("'"), []byte("''"))...)
	return append(out, '\'')
}

// yamlDoubleQuote writes value in double quotes with YAML's escapes for
// the quote, the backslash and every character that is not printable.
func yamlDoubleQuote(value []byte) []byte {
	out := []byte{'"'}
	for _, r := range string(value) {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r == '\t':
			out = append(out, '\\', 't')
		case r == '\n':
			out = append(out, '\\', 'n')
		case r == '\r':
			out = append(out, '\\', 'r')
		case r == ' ' || unicode.IsPrint(r):
			out = utf8.AppendRune(out, r)
		case r <= 0xff:
			out = fmt.Appendf(out, "\\x%02X", r)
		case r <= 0xffff:
			out = fmt.Appendf(out, "\\u%04X", r)
		default:
			out = fmt.Appendf(out, "\\U%08X", r)
		}
	}
	return append(out, '"')
}
