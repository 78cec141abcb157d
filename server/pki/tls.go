package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// ServerTLSConfig returns a TLS configuration for a server presenting the
// given certificate and PKCS#8 key, accepting TLS 1.2 or later.
func ServerTLSConfig(certPEM, keyPEM []byte) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading server key pair: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ClientTLSConfig returns a TLS configuration for a client that trusts only
// the certificates in caPEM and speaks TLS 1.2 or later. It returns
// ErrNoCertificate if caPEM holds no certificate that parses.
func ClientTLSConfig(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("loading trusted CA: %w", ErrNoCertificate)
	}
	return &tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
	}, nil
}
