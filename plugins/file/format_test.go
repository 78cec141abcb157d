package file

import (
	"errors"
	"testing"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		content string
		key     string
		want    string
		err     error
	}{
		{"env bare", "env", "A=1\nB=two # note\n", "B", "two", nil},
		{"env export", "env", "export  B=x\n", "B", "x", nil},
		{"env spaces", "env", "B = x y\n", "B", "x y", nil},
		{"env double", "env", `B="a \"b\" \\ \$x \n"` + "\n", "B", `a "b" \ $x \n`, nil},
		{"env single", "env", "B='a \\ \"$x' # c\n", "B", `a \ "$x`, nil},
		{"env hash inside", "env", "B=a#b\n", "B", "a#b", nil},
		{"env empty", "env", "B=\nC=1\n", "B", "", nil},
		{"env crlf", "env", "A=1\r\nB=x\r\n", "B", "x", nil},
		{"env multiline", "env", "A=\"l1\nl2\"\nB=x\n", "B", "x", nil},
		{"env comment", "env", "# B=x\n", "B", "", errKeyNotFound},
		{"env duplicate", "env", "B=1\nB=2\n", "B", "", errDuplicateKey},
		{"env unterminated", "env", "B=\"x\n", "B", "", errSyntax},
		{"ini global", "ini", "pw = a b ; c\n[s]\npw = x\n", "pw", "a b", nil},
		{"ini section", "ini", "[s]\npw = x\n[t]\npw: y\n", "t.pw", "y", nil},
		{"ini unique bare", "ini", "[db]\npassword = \"a;b\"\n", "password", "a;b", nil},
		{"ini ambiguous", "ini", "[s]\npw = x\n[t]\npw = y\n", "pw", "", errDuplicateKey},
		{"ini quoted", "ini", `k = "a\"b\\c"` + "\n", "k", `a"b\c`, nil},
		{"ini raw quote", "ini", "k = \"open\n", "k", "\"open", nil},
		{"props equals", "properties", "a=b\n", "a", "b", nil},
		{"props colon", "properties", "a : b \n", "a", "b ", nil},
		{"props blank", "properties", "a  b=c\n", "a", "b=c", nil},
		{"props key escape", "properties", `a\ b\=c = v` + "\n", "a b=c", "v", nil},
		{"props continued", "properties", "a = x\\\n    y\\\\\nb=1\n", "a", `xy\`, nil},
		{"props unicode", "properties", `a = \u00e9\uD83D\uDE00\t`, "a", "é😀\t", nil},
		{"props lead space", "properties", `a = \ x`, "a", " x", nil},
		{"props comment", "properties", "! a = 1\n#a=2\n", "a", "", errKeyNotFound},
		{"props bad escape", "properties", `a = \u00`, "a", "", errSyntax},
		{"yaml nested", "yaml", "db:\n  password: s3cret # c\n", "db.password", "s3cret", nil},
		{"yaml double", "yaml", "pw: \"a\\\"b\\x41\"\n", "pw", `a"bA`, nil},
		{"yaml single", "yaml", "pw: 'it''s'\n", "pw", "it's", nil},
		{"yaml block", "yaml", "pw: |\n  line\nnext: 1\n", "pw", "line\n", nil},
		{"yaml flow", "yaml", "db: {user: u, pw: x}\n", "db.pw", "x", nil},
		{"yaml sequence", "yaml", "users:\n  - pin: 0123\n", "users.0.pin", "0123", nil},
		{"yaml dotted key", "yaml", "a.b:\n  c: v\n", "a.b.c", "v", nil},
		{"yaml missing", "yaml", "a: 1\n", "b", "", errKeyNotFound},
		{"yaml empty file", "yaml", "", "b", "", errKeyNotFound},
		{"yaml alias", "yaml", "a: &x v\nb: *x\n", "b", "", errLayout},
		{"yaml null", "yaml", "a:\nb: 1\n", "a", "", errLayout},
		{"yaml mapping", "yaml", "a:\n  b: 1\n", "a", "", errLayout},
		{"yaml invalid", "yaml", "a: [\n", "a", "", errSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := formats[tt.format].find([]byte(tt.content), tt.key)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("find error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("find: %v", err)
			}
			if string(m.value) != tt.want {
				t.Errorf("value = %q, want %q", m.value, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		format string
		old    match
		value  string
		want   string
	}{
		{"env bare", "env", match{}, "Ab1_-.,:/@%+=", "Ab1_-.,:/@%+="},
		{"env quoted", "env", match{}, "a b\"$`\\", `"a b\"\$\` + "`" + `\\"`},
		{"ini bare", "ini", match{}, `a"b\c=d`, `a"b\c=d`},
		{"ini quoted", "ini", match{}, ` a;"\`, `" a;\"\\"`},
		{"props", "properties", match{}, " a=b:c#d!e\\f g\té", `\ a\=b\:c\#d\!e\\f g\t\u00E9`},
		{"props astral", "properties", match{}, "😀", `\uD83D\uDE00`},
		{"yaml plain kept", "yaml", match{tag: "!!str"}, "abc", "abc"},
		{"yaml plain int", "yaml", match{tag: "!!int"}, "5678", "5678"},
		{"yaml str not int", "yaml", match{tag: "!!str"}, "5678", `"5678"`},
		{"yaml bool", "yaml", match{tag: "!!str"}, "true", `"true"`},
		{"yaml single", "yaml", match{quote: '\'', tag: "!!str"}, "it's", `'it''s'`},
		{"yaml double", "yaml", match{tag: "!!str"}, "a\"\\\x01é", `"a\"\\\x01é"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := formats[tt.format].encode([]byte(tt.value), &tt.old)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("encode = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		format, value string
	}{
		{"env", "a\nb"},
		{"env", "a\x00b"},
		{"ini", "a\rb"},
		{"ini", "\xff"},
		{"properties", "\xff"},
		{"yaml", "\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			_, err := formats[tt.format].encode([]byte(tt.value), &match{})
			if !errors.Is(err, errUnencodable) {
				t.Errorf("encode error = %v, want %v", err, errUnencodable)
			}
		})
	}
}

func TestFormatFor(t *testing.T) {
	tests := []struct {
		name, format, path string
		want               format
	}{
		{"env ext", "", "/a/app.env", envFormat{}},
		{"dotenv", "", "/a/.env.local", envFormat{}},
		{"conf", "", "/a/my.CONF", iniFormat{}},
		{"yml", "", "/a/x.yml", yamlFormat{}},
		{"props", "", "/a/x.properties", propertiesFormat{}},
		{"named", "yaml", "/a/x.txt", yamlFormat{}},
		{"unknown ext", "", "/a/x.txt", nil},
		{"unknown name", "toml", "/a/x.env", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := formatFor(tt.format, tt.path)
			if got != tt.want || (err == nil) != (tt.want != nil) {
				t.Errorf("formatFor = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestEdit shows the exact text a change leaves, layout and comments kept.
func TestEdit(t *testing.T) {
	tests := []struct {
		name, format, content, key, value, want string
	}{
		{"env export comment", "env", "export A='x' # c\r\nB=1\r\n", "A", "a b",
			"export A=\"a b\" # c\r\nB=1\r\n"},
		{"env bare", "env", "A = x\n", "A", "y.z", "A = y.z\n"},
		{"ini section", "ini", "[s]\nk : v ; c\n", "s.k", "a;b", "[s]\nk : \"a;b\" ; c\n"},
		{"props continued", "properties", "k = a\\\n  b\nn=1\n", "k", "c d", "k = c d\nn=1\n"},
		{"props no value", "properties", "k\n", "k", "v", "k = v\n"},
		{"props empty", "properties", "k=\n", "k", "v", "k=v\n"},
		{"yaml empty", "yaml", "k: \"\"\n", "k", "v", "k: \"v\"\n"},
		{"yaml plain", "yaml", "a:\n  k: v   # c\n", "a.k", "w", "a:\n  k: w   # c\n"},
		{"yaml int to str", "yaml", "k: 1234\n", "k", "12ab", "k: \"12ab\"\n"},
		{"yaml single", "yaml", "k: 'v'\n", "k", "it's", "k: 'it''s'\n"},
		{"yaml block", "yaml", "k: |  # c\n  l1\n  l2\n\nn: 1\n", "k", "v", "k: v  # c\n\nn: 1\n"},
		{"yaml flow", "yaml", "m: {k: v, n: 1}\n", "m.k", "a,b", "m: {k: \"a,b\", n: 1}\n"},
		{"yaml anchor", "yaml", "k: &x v\nr: *x\n", "k", "w", "k: &x w\nr: *x\n"},
		{"yaml list", "yaml", "l:\n  - a\n  - b\n", "l.1", "c", "l:\n  - a\n  - c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &params{path: "/f", key: tt.key, format: formats[tt.format]}
			m, err := p.find([]byte(tt.content))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.edit([]byte(tt.content), m, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("edit =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// FuzzRoundTrip writes arbitrary values into a file of each format and
// reads them back: what encode accepts must read back exactly, with every
// other entry as it was.
func FuzzRoundTrip(f *testing.F) {
	files := []struct{ format, content, key string }{
		{"env", "# c\nexport A=1 # c\nK=\"old\" # c\nB='x'\n", "K"},
		{"ini", "; c\n[s]\nK = old ; c\nB = x\n", "s.K"},
		{"properties", "# c\nK = old\nB = x\\\n  y\n", "K"},
		{"yaml", "# c\ns:\n  K: old  # c\n  B: [x]\n", "s.K"},
		{"yaml", "s: {K: 'old', B: x}\n", "s.K"},
	}
	seeds := []string{"x", " a#b ;c ", `"'\`, "é😀\t", "- {a: [b]}", "\\u0041", "!x"}
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, file := range files {
			p := &params{path: "/f", key: file.key, format: formats[file.format]}
			m, err := p.find([]byte(file.content))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.format.encode([]byte(value), m); err != nil {
				continue
			}
			if _, err := p.edit([]byte(file.content), m, []byte(value)); err != nil {
				t.Errorf("%s: %q: %v", file.format, value, err)
			}
		}
	})
}

// FuzzFind reads arbitrary files in every format: finding a key and
// editing it may fail, but must not panic, and an edit that succeeds must
// read back.
func FuzzFind(f *testing.F) {
	f.Add("K=1\n", "K")
	f.Add("[s]\nK = \"a\"\n", "s.K")
	f.Add("K = a\\\n b\n", "K")
	f.Add("s:\n  K: |\n    x\n", "s.K")
	f.Add("s: {K: 'x', B: [1]}\n", "s.K")
	f.Fuzz(func(t *testing.T, content, key string) {
		for name, format := range formats {
			p := &params{path: "/f", key: key, format: format}
			m, err := p.find([]byte(content))
			if err != nil {
				continue
			}
			out, err := p.edit([]byte(content), m, []byte("n3w #\"'"))
			if err != nil {
				continue
			}
			if m2, err := p.find(out); err != nil || string(m2.value) != "n3w #\"'" {
				t.Errorf("%s: edit does not read back: %v", name, err)
			}
		}
	})
}
