package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCertificate writes a new self-signed certificate for 127.0.0.1 and
// its key into dir, and returns the lines of redis.conf that serve TLS
// with them on port, and the certificate in PEM.
func writeCertificate(t testing.TB, dir, port string) (conf []string, certPEM string) {
	t.Helper()
	cert, key := newCertificate(t)
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certPath, cert)
	writeFile(t, keyPath, key)
	return []string{
		"port 0",
		"tls-port " + port,
		"tls-cert-file " + certPath,
		"tls-key-file " + keyPath,
		"tls-ca-cert-file " + certPath,
		"tls-auth-clients no",
	}, string(cert)
}

// NewCertificate returns a new self-signed CA certificate for 127.0.0.1
// in PEM, whose key is thrown away.
func NewCertificate(t testing.TB) string {
	t.Helper()
	cert, _ := newCertificate(t)
	return string(cert)
}

// newCertificate returns a new self-signed certificate for 127.0.0.1,
// which is its own CA, and its key, both in PEM.
func newCertificate(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a TLS key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "passman test redis"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating a TLS certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the TLS key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// tlsConfig is how the package's own clients reach a server with TLS:
// trusting its certificate only. It is nil for a server without TLS.
func (s *Server) tlsConfig() *tls.Config {
	if s.CACert == "" {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(s.CACert))
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("writing %s: %v", filepath.Base(path), err)
	}
}
