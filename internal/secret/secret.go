// Package secret holds credential values and keys in a type that cannot be
// printed, logged or marshalled by accident.
//
// A Value formats as "[redacted]" with every fmt verb and marshals to JSON as
// that same string. The only way to the bytes is Reveal, which makes each
// place that handles a clear secret easy to find.
package secret

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
)

const redacted = "[redacted]"

// Value is a secret byte string: a password, a PIN, a private key or a key.
// The zero Value is empty. The bytes sit behind a pointer so that even
// where fmt cannot call Format (a Value in an unexported field), it prints
// an address and not the secret.
type Value struct {
	p *[]byte
}

func (v Value) bytes() []byte {
	if v.p == nil {
		return nil
	}
	return *v.p
}

// New returns a Value holding a copy of b.
func New(b []byte) Value {
	c := append([]byte(nil), b...)
	return Value{p: &c}
}

// FromString returns a Value holding s.
func FromString(s string) Value {
	b := []byte(s)
	return Value{p: &b}
}

// Reveal returns the secret bytes. The caller must not keep or log them.
func (v Value) Reveal() []byte { return v.bytes() }

// Len returns the length of the secret in bytes.
func (v Value) Len() int { return len(v.bytes()) }

// IsEmpty reports whether the Value holds no bytes.
func (v Value) IsEmpty() bool { return len(v.bytes()) == 0 }

// Equal reports whether v and w hold the same bytes, in constant time for
// values of equal length.
func (v Value) Equal(w Value) bool {
	return subtle.ConstantTimeCompare(v.bytes(), w.bytes()) == 1
}

// Wipe overwrites the bytes of v with zeros. Copies made with Reveal are not
// reached.
func (v Value) Wipe() {
	clear(v.bytes())
}

// String returns "[redacted]".
func (Value) String() string { return redacted }

// GoString returns "[redacted]".
func (Value) GoString() string { return redacted }

// Format writes "[redacted]" for every verb.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON encodes the Value as the string "[redacted]".
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText encodes the Value as "[redacted]".
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalJSON decodes a JSON string into the Value, so that request
// bodies can carry secrets in fields that never print.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("secret: want a JSON string")
	}
	b2 := []byte(s)
	v.p = &b2
	return nil
}
