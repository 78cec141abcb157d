// Package auth holds PassMan's local users, API tokens and permissions.
//
// Passwords are kept as argon2id hashes with the OWASP parameters. API
// tokens are 256 random bits handed to the user once; only their SHA-256
// hash is stored, which is enough for a secret of that strength and keeps
// every request's token lookup cheap. Permissions are operations granted to
// a user or a group on a node of the tree, and hold for everything under it.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/passman-dev/passman/internal/secret"
)

var (
	// ErrBadHash is returned for a stored password hash that does not parse.
	ErrBadHash = errors.New("malformed password hash")
	// ErrBadToken is returned for a token that is not of PassMan's form.
	ErrBadToken = errors.New("malformed token")
)

// The argon2id parameters for passwords: OWASP's first recommendation
// (19 MiB, two passes, one thread).
const (
	pwTime    = 2
	pwMemory  = 19 * 1024
	pwThreads = 1
	pwKeyLen  = 32
)

// HashPassword returns the argon2id hash of pw in the PHC string format.
func HashPassword(pw secret.Value) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey(pw.Reveal(), salt, pwTime, pwMemory, pwThreads, pwKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		pwMemory, pwTime, pwThreads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// CheckPassword reports whether pw matches the PHC hash, in constant time.
func CheckPassword(hash string, pw secret.Value) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, ErrBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, ErrBadHash
	}
	got := argon2.IDKey(pw.Reveal(), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// tokenPrefix marks PassMan API tokens, so that secret scanners and people
// can tell them apart.
const tokenPrefix = "pm_"

// NewToken returns a new API token and the hash to store for it.
func NewToken() (secret.Value, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := secret.FromString(tokenPrefix + base64.RawURLEncoding.EncodeToString(b))
	return tok, HashToken(tok)
}

// HashToken returns the stored form of a token.
func HashToken(tok secret.Value) []byte {
	sum := sha256.Sum256(tok.Reveal())
	return sum[:]
}

// CheckTokenForm returns ErrBadToken unless tok looks like a PassMan token.
func CheckTokenForm(tok secret.Value) error {
	s := string(tok.Reveal())
	if !strings.HasPrefix(s, tokenPrefix) || len(s) != len(tokenPrefix)+43 {
		return ErrBadToken
	}
	return nil
}
