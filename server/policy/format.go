package policy

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
)

// Limits on the size of values, in bytes, whatever the policy.
const (
	maxPasswordBytes = 1024
	maxPINBytes      = 64
)

// CheckFormat reports whether v is a credential of type t at all, whatever
// the policy: a password is 1 to 1024 bytes of UTF-8 text without control
// characters, a PIN is 1 to 64 printable ASCII characters, and an SSH key is
// an unencrypted private key in PEM form (OpenSSH, PKCS#8, PKCS#1 or SEC 1
// for ECDSA) with nothing before it and only white space after it. A
// value can pass CheckFormat and still break a policy, as a PIN with letters
// does. The error wraps ErrInvalidValue and never holds any part of v.
func CheckFormat(t model.CredentialType, v secret.Value) error {
	b := v.Reveal()
	switch t {
	case model.Password:
		return checkPasswordFormat(b)
	case model.PIN:
		return checkPINFormat(b)
	case model.SSHKey:
		_, err := parsePrivateKey(b)
		return err
	default:
		return fmt.Errorf("%w: unknown credential type %q", ErrInvalidValue, t)
	}
}

// checkPasswordFormat checks the size and the characters of a password.
func checkPasswordFormat(b []byte) error {
	if len(b) == 0 || len(b) > maxPasswordBytes {
		return fmt.Errorf("%w: password must be 1 to %d bytes long",
			ErrInvalidValue, maxPasswordBytes)
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: password is not valid UTF-8 text", ErrInvalidValue)
	}
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		i += size
		if unicode.IsControl(c) {
			return fmt.Errorf("%w: password contains a control character "+
				"such as a newline or a tab", ErrInvalidValue)
		}
	}
	return nil
}

// checkPINFormat checks the size and the characters of a PIN.
func checkPINFormat(b []byte) error {
	if len(b) == 0 || len(b) > maxPINBytes {
		return fmt.Errorf("%w: pin must be 1 to %d characters long",
			ErrInvalidValue, maxPINBytes)
	}
	for _, c := range b {
		if c < ' ' || c > '~' {
			return fmt.Errorf("%w: pin may only hold printable ASCII characters",
				ErrInvalidValue)
		}
	}
	return nil
}
