// Package pki owns the server's private certificate authority: creating it,
// keeping it on disk, and issuing the certificates that the server, the
// NATS server and the agents present to one another.
//
// All keys are ECDSA P-256 and are encoded as PKCS#8 PEM ("PRIVATE KEY").
// Certificates start five minutes in the past so that a peer whose clock is
// slightly behind still accepts them.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// clockSkew is how far before now a new certificate becomes valid.
const clockSkew = 5 * time.Minute

// PEM block types used by this package.
const (
	certBlockType = "CERTIFICATE"
	keyBlockType  = "PRIVATE KEY"
)

// Errors returned by this package.
var (
	// ErrInvalidValidity means a validity period was zero or negative.
	ErrInvalidValidity = errors.New("validity must be greater than zero")

	// ErrNoCommonName means a certificate was requested without a common
	// name.
	ErrNoCommonName = errors.New("common name is empty")

	// ErrNoHosts means a server certificate was requested without any DNS
	// name or IP address to put in it.
	ErrNoHosts = errors.New("no host names or addresses given")

	// ErrInvalidHost means a host given for a server certificate was empty
	// or contained spaces.
	ErrInvalidHost = errors.New("invalid host name")

	// ErrNoCertificate means PEM data held no certificate that parses.
	ErrNoCertificate = errors.New("no certificate found in PEM data")

	// ErrNoPrivateKey means PEM data held no PKCS#8 private key block.
	ErrNoPrivateKey = errors.New("no private key found in PEM data")

	// ErrNotECDSA means a private key was not an ECDSA key.
	ErrNotECDSA = errors.New("private key is not ECDSA")

	// ErrNotCA means a certificate loaded as the authority may not sign
	// other certificates.
	ErrNotCA = errors.New("certificate is not a certificate authority")

	// ErrKeyMismatch means a private key does not belong to the
	// certificate it was loaded with.
	ErrKeyMismatch = errors.New("private key does not match certificate")
)

// CA is a certificate authority held in memory. Key is the authority's
// signing key and must never be logged or sent anywhere.
type CA struct {
	// Cert is the parsed, self-signed authority certificate.
	Cert *x509.Certificate
	// Key is the private key that signs issued certificates.
	Key *ecdsa.PrivateKey
	// CertPEM is Cert encoded as PEM, ready to hand to peers that must
	// trust the authority.
	CertPEM []byte
}

// NewCA creates a self-signed certificate authority named commonName that
// is valid for the given duration. It may sign leaf certificates only,
// never another authority.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	key, tmpl, err := newTemplate(commonName, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der)}, nil
}

// IssueServer issues a certificate for a TLS server named commonName.
// Each host is a DNS name or an IP literal and is placed in the subject
// alternative names, which is what clients check. The certificate does not
// outlive the authority: its end is cut to the authority's end if needed.
func (ca *CA) IssueServer(
	commonName string, hosts []string, validity time.Duration,
) (certPEM, keyPEM []byte, err error) {
	dnsNames, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, nil, err
	}
	return ca.issue(commonName, validity, func(tmpl *x509.Certificate) {
		tmpl.DNSNames = dnsNames
		tmpl.IPAddresses = ips
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
}

// IssueClient issues a certificate with which a TLS client named
// commonName, such as an agent, proves who it is. Like a server
// certificate, it does not outlive the authority.
func (ca *CA) IssueClient(
	commonName string, validity time.Duration,
) (certPEM, keyPEM []byte, err error) {
	return ca.issue(commonName, validity, func(tmpl *x509.Certificate) {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
}

// issue creates a fresh key and a leaf certificate for it signed by ca,
// letting customize set what differs between server and client.
func (ca *CA) issue(
	commonName string, validity time.Duration, customize func(*x509.Certificate),
) (certPEM, keyPEM []byte, err error) {
	key, tmpl, err := newTemplate(commonName, validity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	customize(tmpl)

	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for %q: %w", commonName, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// newTemplate checks the common arguments and returns a new key with a
// certificate template holding the subject, serial and validity.
func newTemplate(
	commonName string, validity time.Duration,
) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	if validity <= 0 {
		return nil, nil, ErrInvalidValidity
	}
	if strings.TrimSpace(commonName) == "" {
		return nil, nil, ErrNoCommonName
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(validity),
	}
	return key, tmpl, nil
}

// newSerial returns a random serial number of at most 128 bits, never zero.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	limit.Sub(limit, big.NewInt(1))
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// splitHosts sorts hosts into DNS names and IP addresses. An IPv6 address
// may be written in brackets.
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	if len(hosts) == 0 {
		return nil, nil, ErrNoHosts
	}
	var dnsNames []string
	var ips []net.IP
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n") {
			return nil, nil, fmt.Errorf("checking host %q: %w", h, ErrInvalidHost)
		}
		bare := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if ip := net.ParseIP(bare); ip != nil {
			ips = append(ips, ip)
			continue
		}
		dnsNames = append(dnsNames, h)
	}
	return dnsNames, ips, nil
}

// encodeCert returns DER certificate bytes as a PEM block.
func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: certBlockType, Bytes: der})
}

// encodeKey returns key as a PKCS#8 PEM block.
func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyBlockType, Bytes: der}), nil
}
