package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// newTestCA returns a fresh authority valid for a year.
func newTestCA(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, year)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

// parsePEMCert returns the certificate in PEM data or fails the test.
func parsePEMCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	cert, _, err := parseCert(data)
	if err != nil {
		t.Fatalf("parsing certificate: %v", err)
	}
	return cert
}

// startTLSServer listens on a random local port with cfg and completes the
// handshake of every connection. Each server-side handshake result is sent
// on the returned channel.
func startTLSServer(t *testing.T, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	results := make(chan error, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			results <- conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	return ln.Addr().String(), results
}

// dialTLS connects to addr with cfg and returns the handshake error.
func dialTLS(addr string, cfg *tls.Config) error {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}

func TestNewCA(t *testing.T) {
	before := time.Now()
	ca := newTestCA(t, "PassMan test CA")
	after := time.Now()
	other := newTestCA(t, "PassMan test CA")
	cert := ca.Cert

	// Certificate times keep whole seconds only.
	earliest := before.Add(-clockSkew - time.Second)
	latest := after.Add(-clockSkew)

	tests := []struct {
		name string
		ok   bool
	}{
		{"is a CA", cert.IsCA && cert.BasicConstraintsValid},
		{"path length zero", cert.MaxPathLen == 0 && cert.MaxPathLenZero},
		{"key usage", cert.KeyUsage == x509.KeyUsageCertSign|x509.KeyUsageCRLSign},
		{"self-signed", cert.CheckSignatureFrom(cert) == nil},
		{"common name", cert.Subject.CommonName == "PassMan test CA"},
		{"serial fits 128 bits", cert.SerialNumber.Sign() > 0 &&
			cert.SerialNumber.BitLen() <= 128},
		{"serials differ", cert.SerialNumber.Cmp(other.Cert.SerialNumber) != 0},
		{"starts before now", cert.NotBefore.After(earliest) &&
			!cert.NotBefore.After(latest)},
		{"ends after validity", cert.NotAfter.Sub(before) >= year-time.Second},
		{"PEM matches", string(ca.CertPEM) == string(encodeCert(cert.Raw))},
		{"key matches", ca.Key.PublicKey.Equal(cert.PublicKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("check failed for certificate %+v", cert.Subject)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	ca := newTestCA(t, "test CA")
	hosts := []string{"localhost"}

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"CA zero validity", func() error {
			_, err := NewCA("ca", 0)
			return err
		}, ErrInvalidValidity},
		{"CA negative validity", func() error {
			_, err := NewCA("ca", -time.Hour)
			return err
		}, ErrInvalidValidity},
		{"CA empty name", func() error {
			_, err := NewCA(" ", time.Hour)
			return err
		}, ErrNoCommonName},
		{"server zero validity", func() error {
			_, _, err := ca.IssueServer("srv", hosts, 0)
			return err
		}, ErrInvalidValidity},
		{"server no hosts", func() error {
			_, _, err := ca.IssueServer("srv", nil, time.Hour)
			return err
		}, ErrNoHosts},
		{"server empty host", func() error {
			_, _, err := ca.IssueServer("srv", []string{"localhost", ""}, time.Hour)
			return err
		}, ErrInvalidHost},
		{"client negative validity", func() error {
			_, _, err := ca.IssueClient("agent", -time.Second)
			return err
		}, ErrInvalidValidity},
		{"client empty name", func() error {
			_, _, err := ca.IssueClient("", time.Hour)
			return err
		}, ErrNoCommonName},
		{"client config without certificate", func() error {
			_, err := ClientTLSConfig([]byte("not a certificate"))
			return err
		}, ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIssueServer(t *testing.T) {
	ca := newTestCA(t, "test CA")
	hosts := []string{"localhost", "127.0.0.1", "[::1]", "passman.example"}
	certPEM, keyPEM, err := ca.IssueServer("passman server", hosts, 10*year)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	cert := parsePEMCert(t, certPEM)

	tests := []struct {
		name string
		ok   bool
	}{
		{"DNS names", len(cert.DNSNames) == 2 && cert.DNSNames[0] == "localhost" &&
			cert.DNSNames[1] == "passman.example"},
		{"IP addresses", len(cert.IPAddresses) == 2 &&
			cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) &&
			cert.IPAddresses[1].Equal(net.IPv6loopback)},
		{"server auth only", len(cert.ExtKeyUsage) == 1 &&
			cert.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth},
		{"not a CA", !cert.IsCA},
		{"signed by CA", cert.CheckSignatureFrom(ca.Cert) == nil},
		{"ends with CA", cert.NotAfter.Equal(ca.Cert.NotAfter)},
		{"PKCS#8 key", pemType(keyPEM) == "PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("check failed: DNS %v, IP %v, usage %v, not after %v",
					cert.DNSNames, cert.IPAddresses, cert.ExtKeyUsage, cert.NotAfter)
			}
		})
	}
}

// pemType returns the type of the first PEM block in data.
func pemType(data []byte) string {
	block, _ := pem.Decode(data)
	if block == nil {
		return ""
	}
	return block.Type
}

func TestTLSHandshake(t *testing.T) {
	ca := newTestCA(t, "test CA")
	otherCA := newTestCA(t, "other CA")
	certPEM, keyPEM, err := ca.IssueServer("server", []string{"localhost", "127.0.0.1"}, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	serverCfg, err := ServerTLSConfig(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("ServerTLSConfig: %v", err)
	}
	if serverCfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", serverCfg.MinVersion)
	}
	addr, _ := startTLSServer(t, serverCfg)

	tests := []struct {
		name       string
		caPEM      []byte
		serverName string
		wantErr    bool
	}{
		{"trusted CA by IP", ca.CertPEM, "", false},
		{"trusted CA by name", ca.CertPEM, "localhost", false},
		{"other CA", otherCA.CertPEM, "", true},
		{"name not in certificate", ca.CertPEM, "elsewhere.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientTLSConfig(tt.caPEM)
			if err != nil {
				t.Fatalf("ClientTLSConfig: %v", err)
			}
			cfg.ServerName = tt.serverName
			err = dialTLS(addr, cfg)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("handshake error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestServerTLSConfigMismatchedKey(t *testing.T) {
	ca := newTestCA(t, "test CA")
	certPEM, _, err := ca.IssueServer("one", []string{"localhost"}, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	_, keyPEM, err := ca.IssueServer("two", []string{"localhost"}, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	if _, err := ServerTLSConfig(certPEM, keyPEM); err == nil {
		t.Error("ServerTLSConfig accepted a key of another certificate")
	}
}

func TestClientCertificate(t *testing.T) {
	ca := newTestCA(t, "test CA")
	otherCA := newTestCA(t, "other CA")
	clientPEM, _, err := ca.IssueClient("agent-1", day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	serverPEM, _, err := ca.IssueServer("server", []string{"localhost"}, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}

	tests := []struct {
		name    string
		certPEM []byte
		roots   *CA
		usage   x509.ExtKeyUsage
		wantErr bool
	}{
		{"client for client auth", clientPEM, ca, x509.ExtKeyUsageClientAuth, false},
		{"client for server auth", clientPEM, ca, x509.ExtKeyUsageServerAuth, true},
		{"server for client auth", serverPEM, ca, x509.ExtKeyUsageClientAuth, true},
		{"client under other CA", clientPEM, otherCA, x509.ExtKeyUsageClientAuth, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots := x509.NewCertPool()
			roots.AddCert(tt.roots.Cert)
			_, err := parsePEMCert(t, tt.certPEM).Verify(x509.VerifyOptions{
				Roots:     roots,
				KeyUsages: []x509.ExtKeyUsage{tt.usage},
			})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("Verify error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "test CA")
	serverCert, serverKey, err := ca.IssueServer("server", []string{"127.0.0.1"}, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	clientCert, clientKey, err := ca.IssueClient("agent-1", day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}

	serverCfg, err := ServerTLSConfig(serverCert, serverKey)
	if err != nil {
		t.Fatalf("ServerTLSConfig: %v", err)
	}
	serverCfg.ClientAuth = tls.RequireAndVerifyClientCert
	serverCfg.ClientCAs = x509.NewCertPool()
	serverCfg.ClientCAs.AddCert(ca.Cert)
	addr, results := startTLSServer(t, serverCfg)

	clientCfg, err := ClientTLSConfig(ca.CertPEM)
	if err != nil {
		t.Fatalf("ClientTLSConfig: %v", err)
	}
	pair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatalf("loading client key pair: %v", err)
	}
	clientCfg.Certificates = []tls.Certificate{pair}

	if err := dialTLS(addr, clientCfg); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-results; err != nil {
		t.Errorf("server handshake: %v", err)
	}
}

func TestSaveLoadCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ca := newTestCA(t, "test CA")
	if err := ca.Save(dir); err != nil {
		t.Fatalf("Save: %v", err)
	}

	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("loaded certificate differs")
	}
	if !loaded.Key.Equal(ca.Key) {
		t.Error("loaded key differs")
	}
	if string(loaded.CertPEM) != string(ca.CertPEM) {
		t.Error("loaded certificate PEM differs")
	}

	modes := []struct {
		file string
		want os.FileMode
	}{
		{CACertFile, 0o644},
		{CAKeyFile, 0o600},
	}
	for _, tt := range modes {
		t.Run(tt.file, func(t *testing.T) {
			checkMode(t, filepath.Join(dir, tt.file), tt.want)
		})
	}
}

func TestLoadCAErrors(t *testing.T) {
	ca := newTestCA(t, "test CA")
	otherCA := newTestCA(t, "other CA")
	leafPEM, leafKey, err := ca.IssueClient("agent-1", day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	otherKey, err := encodeKey(otherCA.Key)
	if err != nil {
		t.Fatalf("encodeKey: %v", err)
	}

	tests := []struct {
		name    string
		certPEM []byte // nil leaves the file out
		keyPEM  []byte
		want    error
	}{
		{"missing files", nil, nil, fs.ErrNotExist},
		{"garbage certificate", []byte("junk"), otherKey, ErrNoCertificate},
		{"leaf certificate", leafPEM, leafKey, ErrNotCA},
		{"key of another CA", ca.CertPEM, otherKey, ErrKeyMismatch},
		{"no key block", ca.CertPEM, ca.CertPEM, ErrNoPrivateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeIfSet(t, filepath.Join(dir, CACertFile), tt.certPEM)
			writeIfSet(t, filepath.Join(dir, CAKeyFile), tt.keyPEM)
			if _, err := LoadCA(dir); !errors.Is(err, tt.want) {
				t.Errorf("LoadCA error = %v, want %v", err, tt.want)
			}
		})
	}
}

// writeIfSet writes data to path unless data is nil.
func writeIfSet(t *testing.T, path string, data []byte) {
	t.Helper()
	if data == nil {
		return
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server-key.pem")

	steps := []struct {
		name string
		data string
		perm os.FileMode
	}{
		{"create", "first contents, somewhat longer", 0o644},
		{"replace", "second", 0o600},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			if err := WriteFileAtomic(path, []byte(tt.data), tt.perm); err != nil {
				t.Fatalf("WriteFileAtomic: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if string(got) != tt.data {
				t.Errorf("contents = %q, want %q", got, tt.data)
			}
			checkMode(t, path, tt.perm)
			checkOnlyFile(t, dir, filepath.Base(path))
		})
	}
}

// checkMode fails the test if the file at path does not have mode want.
func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("mode = %o, want %o", got, want)
	}
}

// checkOnlyFile fails the test unless dir holds exactly one entry, name.
func checkOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading directory: %v", err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, name)
	}
}
