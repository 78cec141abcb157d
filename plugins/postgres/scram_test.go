package postgres

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

// TestVerifierRFC7677 builds the verifier of the example in RFC 7677,
// section 3, and proves with it, as a server would, the client proof
// and the server signature of that example's exchange.
func TestVerifierRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := buildVerifier([]byte("pencil"), salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	storedKey, serverKey := verifierKeys(t, v, salt)

	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=" + nonce
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	signature := "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

	clientKey := hmacSHA256(storedKey, authMessage)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	if sum := sha256.Sum256(clientKey); !bytes.Equal(sum[:], storedKey) {
		t.Error("the example's client proof does not match the verifier's StoredKey")
	}
	got := base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, authMessage))
	if !hmac.Equal([]byte(got), []byte(signature)) {
		t.Errorf("server signature %s, want %s", got, signature)
	}
}

// verifierPattern is the form PostgreSQL stores.
var verifierPattern = regexp.MustCompile(
	`^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)

// verifierKeys checks v's form and salt and returns its StoredKey and
// ServerKey.
func verifierKeys(t *testing.T, v string, salt []byte) (storedKey, serverKey []byte) {
	t.Helper()
	m := verifierPattern.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("verifier %q is not in PostgreSQL's form", v)
	}
	if m[1] != base64.StdEncoding.EncodeToString(salt) {
		t.Errorf("verifier salt %s, want %s", m[1], base64.StdEncoding.EncodeToString(salt))
	}
	storedKey, _ = base64.StdEncoding.DecodeString(m[2])
	serverKey, _ = base64.StdEncoding.DecodeString(m[3])
	if len(storedKey) != sha256.Size || len(serverKey) != sha256.Size {
		t.Fatalf("verifier keys of %d and %d bytes", len(storedKey), len(serverKey))
	}
	return storedKey, serverKey
}

func TestVerifierSalt(t *testing.T) {
	a, err := scramVerifier([]byte("same password"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := scramVerifier([]byte("same password"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !verifierPattern.MatchString(a) {
		t.Errorf("two verifiers of one password: %q and %q; want different salts", a, b)
	}
	if strings.Contains(a, "same password") {
		t.Error("the verifier holds the password")
	}
}

func TestCheckSCRAMPassword(t *testing.T) {
	tests := []struct {
		name, password string
		ok             bool
	}{
		{"ascii", "Plain-Passw0rd!", true},
		{"ascii with a control character", "tab\there", true},
		{"composed letters", "Grüße-日本-пароль", true},
		{"not UTF-8", "bad\xff\xfebytes", true},
		{"decomposed letter", "Gru\u0308sse", false},
		{"compatibility ligature", "of\uFB01ce", false},
		{"fullwidth letter", "\uFF21bc", false},
		{"no-break space", "a\u00A0b", false},
		{"soft hyphen", "pass\u00ADword", false},
		{"zero width space", "pass\u200Bword", false},
		{"NUL byte", "nul\x00byte", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSCRAMPassword([]byte(tc.password))
			if tc.ok != (err == nil) {
				t.Errorf("checkSCRAMPassword = %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				if e, isSDK := err.(*sdk.Error); !isSDK || e.Reason != sdk.ReasonInvalidParams {
					t.Errorf("error %v, want invalid_params", err)
				}
			}
		})
	}
}
