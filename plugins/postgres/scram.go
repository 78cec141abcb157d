package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"

	"github.com/passman-dev/passman/plugins/sdk"
)

// SCRAM verifier settings. 4096 iterations is PostgreSQL's own default,
// and 16 bytes its salt length.
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// scramVerifier returns the SCRAM-SHA-256 verifier of password with a
// fresh random salt, in the form PostgreSQL stores in pg_authid
// (RFC 5802 and RFC 7677):
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// The server accepts such a string in ALTER ROLE ... PASSWORD as it is,
// so the password itself never reaches the server.
func scramVerifier(password []byte) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading a salt: %w", err)
	}
	return buildVerifier(password, salt, scramIterations)
}

// buildVerifier computes the verifier of password with a given salt and
// iteration count.
func buildVerifier(password, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving the salted password: %w", err)
	}
	defer clear(salted)
	clientKey := hmacSHA256(salted, "Client Key")
	defer clear(clientKey)
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")

	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iterations) + ":" + b64(salt) + "$" +
		b64(storedKey[:]) + ":" + b64(serverKey), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// mappedToNothing are the characters SASLprep deletes (RFC 3454, table
// B.1) before it derives a SCRAM key from a password.
var mappedToNothing = []rune{
	0x00AD, 0x034F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060,
	0xFE00, 0xFE01, 0xFE02, 0xFE03, 0xFE04, 0xFE05, 0xFE06, 0xFE07,
	0xFE08, 0xFE09, 0xFE0A, 0xFE0B, 0xFE0C, 0xFE0D, 0xFE0E, 0xFE0F, 0xFEFF,
}

// checkSCRAMPassword returns an error when clients could disagree on the
// key a password gives. Before deriving it, libpq and the server
// normalise a password with SASLprep, while pgx uses PRECIS, and both
// fall back to the bytes as they are when normalising fails. A password
// of ASCII only, or one that every form leaves as it is, gives one key
// everywhere, and the driver builds the verifier from its bytes as they
// are; any other would log in from some clients and not from others.
func checkSCRAMPassword(password []byte) error {
	if slices.Contains(password, 0) {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the new password holds a NUL byte, which most PostgreSQL clients cannot send")
	}
	if ascii(password) || !utf8.Valid(password) {
		return nil
	}
	s := string(password)
	p, err := precis.OpaqueString.String(s)
	deleted := strings.ContainsFunc(s, func(r rune) bool {
		return slices.Contains(mappedToNothing, r)
	})
	if err == nil && p == s && norm.NFKC.IsNormalString(s) && !deleted {
		return nil
	}
	return sdk.Errorf(sdk.ReasonInvalidParams, "the new password holds Unicode characters "+
		"that PostgreSQL clients normalise differently, so it would not log in from all of "+
		"them; use another password")
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
