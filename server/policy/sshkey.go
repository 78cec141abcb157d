package policy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/secret"
)

// SSH key algorithms, sizes and limits.
const (
	algEd25519     = "ed25519"
	algRSA         = "rsa"
	ed25519Bits    = 256
	minRSABits     = 3072
	maxRSABits     = 4096
	maxSSHKeyBytes = 16 << 10
)

// SSHKeyRules is the policy for SSH keys.
type SSHKeyRules struct {
	// Algorithm is "ed25519" or "rsa". Default "ed25519".
	Algorithm string `json:"algorithm"`

	// Bits is the size of RSA keys: 3072 or 4096, default 3072. Typed RSA
	// keys may be larger. For ed25519 it is 0; 256 is accepted and made 0
	// by EnsureDefaults.
	Bits int `json:"bits"`
}

// ensureDefaults fills the zero fields of r with their defaults and makes
// the size of an ed25519 key 0.
func (r *SSHKeyRules) ensureDefaults() {
	if r.Algorithm == "" {
		r.Algorithm = algEd25519
	}
	switch {
	case r.Algorithm == algRSA && r.Bits == 0:
		r.Bits = minRSABits
	case r.Algorithm == algEd25519 && r.Bits == ed25519Bits:
		r.Bits = 0
	}
}

// problems lists what makes r invalid.
func (r *SSHKeyRules) problems() []string {
	switch r.Algorithm {
	case algEd25519:
		if r.Bits != 0 && r.Bits != ed25519Bits {
			return []string{fmt.Sprintf("ed25519 keys have a fixed size, not %d bits; "+
				"set bits to 0 or use algorithm rsa", r.Bits)}
		}
	case algRSA:
		if r.Bits < minRSABits {
			return []string{fmt.Sprintf("rsa keys of %d bits are too weak; "+
				"set bits to %d or %d, or use algorithm ed25519", r.Bits, minRSABits, maxRSABits)}
		}
		if r.Bits != minRSABits && r.Bits != maxRSABits {
			return []string{fmt.Sprintf("rsa bits %d is not supported; set bits to %d or %d",
				r.Bits, minRSABits, maxRSABits)}
		}
	default:
		return []string{fmt.Sprintf(
			"ssh key algorithm %q is not supported; use ed25519 or rsa", r.Algorithm)}
	}
	return nil
}

// generate returns a new key pair following r, which must be valid, as an
// OpenSSH private key in PEM form without a passphrase.
func (r *SSHKeyRules) generate() (secret.Value, error) {
	var key crypto.PrivateKey
	if r.Algorithm == algRSA {
		k, err := rsa.GenerateKey(rand.Reader, r.Bits)
		if err != nil {
			return secret.Value{}, fmt.Errorf("generating rsa key: %w", err)
		}
		key = k
	} else {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return secret.Value{}, fmt.Errorf("generating ed25519 key: %w", err)
		}
		defer clear(k)
		key = k
	}
	return encodePrivateKey(key)
}

// encodePrivateKey returns key as an OpenSSH private key in PEM form,
// wiping the intermediate copies.
func encodePrivateKey(key crypto.PrivateKey) (secret.Value, error) {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return secret.Value{}, fmt.Errorf("encoding ssh key: %w", err)
	}
	text := pem.EncodeToMemory(block)
	clear(block.Bytes)

	v := secret.New(text)
	clear(text)
	return v, nil
}

// check lists the ways the PEM private key b breaks r.
func (r *SSHKeyRules) check(b []byte) []string {
	key, err := parsePrivateKey(b)
	if err != nil {
		return []string{"ssh key is not an unencrypted private key in PEM form"}
	}
	alg, bits := describeKey(key)
	if alg != r.Algorithm {
		return []string{fmt.Sprintf("ssh key is %s; the policy requires %s", alg, r.Algorithm)}
	}
	if alg == algRSA && bits < r.Bits {
		return []string{fmt.Sprintf(
			"rsa key has %d bits; the policy requires at least %d", bits, r.Bits)}
	}
	return nil
}

// describeKey names the algorithm of a parsed private key and its size in
// bits.
func describeKey(key crypto.PrivateKey) (alg string, bits int) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return algEd25519, ed25519Bits
	case *rsa.PrivateKey:
		return algRSA, k.N.BitLen()
	case *ecdsa.PrivateKey:
		return "ecdsa", k.Curve.Params().BitSize
	default:
		return "an unsupported key type", 0
	}
}

// parsePrivateKey parses b as one unencrypted private key in PEM form, in
// OpenSSH, PKCS#8, PKCS#1 or SEC 1 encoding, with nothing but white space after
// it. An ed25519 key comes back as an ed25519.PrivateKey value. Errors wrap
// ErrInvalidValue and never hold any part of b.
func parsePrivateKey(b []byte) (crypto.PrivateKey, error) {
	if len(b) > maxSSHKeyBytes {
		return nil, fmt.Errorf("%w: ssh private key is longer than %d bytes",
			ErrInvalidValue, maxSSHKeyBytes)
	}
	if err := checkLonePEM(b); err != nil {
		return nil, err
	}
	key, err := ssh.ParseRawPrivateKey(b)
	if _, ok := errors.AsType[*ssh.PassphraseMissingError](err); ok {
		return nil, fmt.Errorf("%w: ssh private key is protected by a passphrase; "+
			"store it without one", ErrInvalidValue)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not a private key in OpenSSH, PKCS#8 or PKCS#1 PEM form",
			ErrInvalidValue)
	}
	if k, ok := key.(*ed25519.PrivateKey); ok {
		key = *k
	}
	return key, nil
}

// checkLonePEM checks that b is a single PEM block, starting at its first
// byte and followed by nothing but white space, so that any PEM parser
// reads it the same way.
func checkLonePEM(b []byte) error {
	block, rest := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("%w: not a private key in PEM form", ErrInvalidValue)
	}
	clear(block.Bytes)
	if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
		return fmt.Errorf("%w: ssh private key must start with its -----BEGIN line; "+
			"remove what comes before it", ErrInvalidValue)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("%w: ssh private key has text after its PEM block; "+
			"store the key alone", ErrInvalidValue)
	}
	return nil
}

// PublicKey returns the public half of the private SSH key v as a line for
// an authorized_keys file, without a comment or a trailing newline. The
// error wraps ErrInvalidValue when v is not an unencrypted private key.
func PublicKey(v secret.Value) (string, error) {
	key, err := parsePrivateKey(v.Reveal())
	if err != nil {
		return "", err
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: ssh private key of an unsupported type", ErrInvalidValue)
	}
	line := ssh.MarshalAuthorizedKey(signer.PublicKey())
	return string(bytes.TrimSuffix(line, []byte("\n"))), nil
}
