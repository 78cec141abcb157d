package api

import (
	"encoding/json"

	"github.com/passman-dev/passman/internal/secret"
)

// Secret is a secret in a request body. Like secret.Value it prints as
// "[redacted]", but it marshals to JSON in clear: it exists to cross the
// TLS connection to the server, and nowhere else should it be encoded.
type Secret struct{ secret.Value }

// NewSecret wraps v for a request body.
func NewSecret(v secret.Value) Secret { return Secret{v} }

// MarshalJSON encodes the secret as a JSON string, in clear.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(string(s.Reveal())) }
