package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/secret"
)

const plain = "hunter2-Tr0ub4dor&3"

// holder is a record that carries a secret in an exported field, as API
// and job types do.
type holder struct {
	Name     string
	Password secret.Value
	Ptr      *secret.Value
	List     []secret.Value
	ByName   map[string]secret.Value
}

func newHolder() holder {
	v := secret.FromString(plain)
	return holder{
		Name:     "root",
		Password: v,
		Ptr:      &v,
		List:     []secret.Value{v, v},
		ByName:   map[string]secret.Value{"a": v},
	}
}

// checkHidden fails the test if out shows the secret in a common form, or
// lacks the redaction mark.
func checkHidden(t *testing.T, what, out string) {
	t.Helper()
	b := []byte(plain)
	forms := []string{
		plain,
		fmt.Sprintf("%x", b),
		fmt.Sprintf("%X", b),
		strings.Trim(fmt.Sprint(b[:3]), "[]"), // bytes as decimal numbers
		fmt.Sprintf("%#x", b[0]) + ", " + fmt.Sprintf("%#x", b[1]), // as with %#v
	}
	for _, f := range forms {
		if strings.Contains(out, f) {
			t.Errorf("%s shows the secret (%q): %s", what, f, out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("%s = %s; want [redacted] in it", what, out)
	}
}

func TestFormatRedacts(t *testing.T) {
	v := secret.FromString(plain)
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10v", "%-8s"}
	values := []struct {
		name string
		v    any
	}{
		{name: "value", v: v},
		{name: "pointer", v: &v},
		{name: "struct", v: newHolder()},
		{name: "pointer to struct", v: ptr(newHolder())},
		{name: "slice", v: []secret.Value{v}},
		{name: "map", v: map[string]secret.Value{"k": v}},
	}
	for _, val := range values {
		for _, verb := range verbs {
			t.Run(val.name+" "+verb, func(t *testing.T) {
				var out string
				if strings.Contains(verb, "%T") {
					out = fmt.Sprintf(verb, val.v, val.v)
				} else {
					out = fmt.Sprintf(verb, val.v)
				}
				checkHidden(t, verb, out)
			})
		}
	}
	t.Run("error", func(t *testing.T) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			err := fmt.Errorf("logging in with "+verb+": %w", v, errors.New("denied"))
			checkHidden(t, "error with "+verb, err.Error())
		}
	})
	t.Run("Sprint and Sprintln", func(t *testing.T) {
		checkHidden(t, "Sprint", fmt.Sprint(v, newHolder()))
		checkHidden(t, "Sprintln", fmt.Sprintln(v, newHolder()))
	})
	t.Run("String and GoString", func(t *testing.T) {
		if diff := cmp.Diff(v.String(), "[redacted]"); diff != "" {
			t.Errorf("String (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(v.GoString(), "[redacted]"); diff != "" {
			t.Errorf("GoString (-got +want):\n%s", diff)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestMarshalRedacts(t *testing.T) {
	v := secret.FromString(plain)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "value", v: v, want: `"[redacted]"`},
		{name: "pointer", v: &v, want: `"[redacted]"`},
		{name: "zero value", v: secret.Value{}, want: `"[redacted]"`},
		{name: "slice", v: []secret.Value{v}, want: `["[redacted]"]`},
		{
			name: "struct",
			v:    newHolder(),
			want: `{"Name":"root","Password":"[redacted]","Ptr":"[redacted]",` +
				`"List":["[redacted]","[redacted]"],"ByName":{"a":"[redacted]"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff(string(b), tc.want); diff != "" {
				t.Errorf("Marshal (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("MarshalText", func(t *testing.T) {
		b, err := v.MarshalText()
		if err != nil || string(b) != "[redacted]" {
			t.Errorf("MarshalText = %q, %v; want [redacted]", b, err)
		}
	})
}

func TestLoggersRedact(t *testing.T) {
	v := secret.FromString(plain)
	tests := []struct {
		name string
		log  func(buf *bytes.Buffer)
	}{
		{
			name: "hclog text",
			log: func(buf *bytes.Buffer) {
				hclog.New(&hclog.LoggerOptions{Output: buf}).Info("login", "password", v)
			},
		},
		{
			name: "hclog json",
			log: func(buf *bytes.Buffer) {
				l := hclog.New(&hclog.LoggerOptions{Output: buf, JSONFormat: true})
				l.Info("login", "password", v, "holder", newHolder())
			},
		},
		{
			name: "slog text",
			log: func(buf *bytes.Buffer) {
				slog.New(slog.NewTextHandler(buf, nil)).Info("login", "password", v)
			},
		},
		{
			name: "slog json",
			log: func(buf *bytes.Buffer) {
				slog.New(slog.NewJSONHandler(buf, nil)).Info("login", "password", v)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(&buf)
			checkHidden(t, tc.name, buf.String())
		})
	}
}

func TestNewCopies(t *testing.T) {
	b := []byte(plain)
	v := secret.New(b)
	b[0] = 'X'
	if diff := cmp.Diff(string(v.Reveal()), plain); diff != "" {
		t.Errorf("Value changed with its source (-got +want):\n%s", diff)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b secret.Value
		want bool
	}{
		{name: "same", a: secret.FromString("abc"), b: secret.New([]byte("abc")), want: true},
		{name: "different", a: secret.FromString("abc"), b: secret.FromString("abd")},
		{name: "prefix", a: secret.FromString("abc"), b: secret.FromString("ab")},
		{name: "both empty", a: secret.Value{}, b: secret.FromString(""), want: true},
		{name: "one empty", a: secret.Value{}, b: secret.FromString("a")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Equal(tc.b); got != tc.want {
				t.Errorf("a.Equal(b) = %v; want %v", got, tc.want)
			}
			if got := tc.b.Equal(tc.a); got != tc.want {
				t.Errorf("b.Equal(a) = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestLenAndEmpty(t *testing.T) {
	tests := []struct {
		name      string
		v         secret.Value
		wantLen   int
		wantEmpty bool
	}{
		{name: "zero", v: secret.Value{}, wantEmpty: true},
		{name: "empty string", v: secret.FromString(""), wantEmpty: true},
		{name: "nil bytes", v: secret.New(nil), wantEmpty: true},
		{name: "ascii", v: secret.FromString("abcd"), wantLen: 4},
		{name: "multibyte counts bytes", v: secret.FromString("é"), wantLen: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.Len(); got != tc.wantLen {
				t.Errorf("Len = %d; want %d", got, tc.wantLen)
			}
			if got := tc.v.IsEmpty(); got != tc.wantEmpty {
				t.Errorf("IsEmpty = %v; want %v", got, tc.wantEmpty)
			}
		})
	}
}

func TestWipe(t *testing.T) {
	v := secret.FromString(plain)
	revealed := v.Reveal()
	v.Wipe()
	if !bytes.Equal(v.Reveal(), make([]byte, len(plain))) {
		t.Errorf("after Wipe the value holds %q; want zeros", v.Reveal())
	}
	if !bytes.Equal(revealed, make([]byte, len(plain))) {
		t.Error("Wipe left the revealed bytes of the same Value in place")
	}
	secret.Value{}.Wipe() // wiping the zero Value is harmless
}

func TestUnmarshalJSON(t *testing.T) {
	type request struct {
		Value secret.Value `json:"value"`
	}
	tests := []struct {
		name    string
		body    string
		want    string
		wantErr bool
	}{
		{name: "string", body: `{"value":"` + plain + `"}`, want: plain},
		{name: "escaped", body: `{"value":"a\"b\u00e9\\"}`, want: `a"bé\`},
		{name: "empty", body: `{"value":""}`, want: ""},
		{name: "absent", body: `{}`, want: ""},
		{name: "number", body: `{"value":1234}`, wantErr: true},
		{name: "object", body: `{"value":{"b":"x"}}`, wantErr: true},
		{name: "array of bytes", body: `{"value":[104,117]}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r request
			err := json.Unmarshal([]byte(tc.body), &r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Unmarshal = %v; want error %v", err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "104") {
					t.Errorf("error %q shows the input", err)
				}
				return
			}
			if diff := cmp.Diff(string(r.Value.Reveal()), tc.want); diff != "" {
				t.Errorf("decoded value (-got +want):\n%s", diff)
			}
			checkHidden(t, "decoded request", fmt.Sprintf("%+v", r))
		})
	}
}
