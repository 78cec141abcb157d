// Package slapd runs a real OpenLDAP server for tests, with its own
// configuration, certificates and database in the test's temporary
// directory, and manages the directory entries that tests bind as.
//
// Every server holds the suffix dc=example,dc=org with people under
// ou=people and one service account, the reconcile account, under
// ou=services. People may change their own userPassword; the service
// account may change anyone's. The server needs the apt package slapd;
// make test installs it.
package slapd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testtarget/proc"
)

// Binary is where the server is expected.
const Binary = "/usr/sbin/slapd"

// Where entries live in every server.
const (
	// Suffix is the root of the server's one database.
	Suffix = "dc=example,dc=org"
	// PeopleTemplate is the DN of a person, with {account} for its uid.
	PeopleTemplate = "uid={account},ou=people," + Suffix
	// ServiceTemplate is the DN of a service account, with {account}
	// for its cn.
	ServiceTemplate = "cn={account},ou=services," + Suffix
	// AdminName is the cn of the service account that may change every
	// person's password: the reconcile account of the tests.
	AdminName = "passman"
	// RootDN is the server's superuser, which exists only in its
	// configuration.
	RootDN = "cn=root," + Suffix
)

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 15 * time.Second

// Options says how to run a server. The zero Options serves plain LDAP
// on a free port of 127.0.0.1 with no password policy.
type Options struct {
	// TLS, when set, gives the server a certificate from a new CA: the
	// plain port then accepts StartTLS, and LDAPSAddr serves LDAPS.
	TLS bool
	// RequireTLS, which implies TLS, refuses simple binds on connections
	// without it, with the result confidentialityRequired.
	RequireTLS bool
	// Policy, when set, loads the ppolicy overlay with this policy for
	// every entry.
	Policy *Policy
}

// Policy is a password policy, as the ppolicy overlay enforces it.
type Policy struct {
	// MaxFailures locks an entry after this many failed binds in a
	// row. Zero never locks.
	MaxFailures int
	// MinLength refuses new passwords shorter than this, with the
	// result constraintViolation. Zero allows any length.
	MinLength int
}

// Server is a running slapd.
type Server struct {
	// Addr is the host:port of plain LDAP, with StartTLS when the
	// server has TLS.
	Addr string
	// LDAPSAddr is the host:port of LDAPS, or "" without TLS.
	LDAPSAddr string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate, or "" without TLS.
	CAFile string
	// RootPassword is the password of RootDN.
	RootPassword string
	// AdminDN is the DN of the AdminName service account.
	AdminDN string
	// AdminPassword is the password of AdminDN.
	AdminPassword string

	dir  string
	tls  *tls.Config
	proc *proc.Process
	logs logbuf.Buffer
}

// Start starts slapd in the foreground with a fresh database, waits
// until it answers a bind, adds the base entries and the service
// account, and stops it at cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("%s is missing: run make test, which installs the apt package slapd", Binary)
	}
	s := &Server{
		Addr:          freeAddr(t),
		RootPassword:  Password(t),
		AdminDN:       ServiceDN(AdminName),
		AdminPassword: Password(t),
		dir:           t.TempDir(),
	}
	urls := []string{"ldap://" + s.Addr + "/"}
	var tlsFiles *certFiles
	if opts.TLS || opts.RequireTLS {
		s.LDAPSAddr = freeAddr(t)
		urls = append(urls, "ldaps://"+s.LDAPSAddr+"/")
		tlsFiles = writeCertificates(t, s.dir)
		s.CAFile = tlsFiles.ca
		s.tls = clientTLS(t, s.CAFile)
	}
	conf := writeConfig(t, s.dir, s.RootPassword, tlsFiles, opts)

	s.start(t, conf, urls)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("slapd logs:\n%s", s.Logs())
		}
	})
	s.waitReady(t)
	s.addBase(t, opts.Policy)
	return s
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop stops the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Stop() { s.proc.Stop(syscall.SIGTERM, 5*time.Second) }

// TLSConfig returns a client configuration that trusts the server's CA,
// for tests that speak TLS to it themselves, or nil without TLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return s.tls.Clone()
}

// clientTLS returns a client configuration that trusts the CA in caFile.
func clientTLS(t testing.TB, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("reading the CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the CA file holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// start runs slapd in the foreground; -d keeps it there and sends its
// log to stderr. The stats level logs connections and operations, never
// their values.
func (s *Server) start(t testing.TB, conf string, urls []string) {
	t.Helper()
	cmd := exec.Command(Binary, "-f", conf, "-h", strings.Join(urls, " "), "-d", "stats")
	s.proc = proc.Start(t, "slapd", cmd, &s.logs)
}

// waitReady polls until the root DN can bind.
func (s *Server) waitReady(t testing.TB) {
	t.Helper()
	if err := s.proc.Wait(startTimeout, func() error { return s.bind(RootDN, s.RootPassword) }); err != nil {
		t.Fatalf("slapd does not answer on %s: %v\n%s", s.Addr, err, s.Logs())
	}
}

// Bind binds to the server as dn with password on a new connection, as
// a client outside PassMan would, and returns the bind's error. The
// connection uses StartTLS when the server has TLS. Bind fails the test
// when the server cannot be reached.
func (s *Server) Bind(t testing.TB, dn, password string) error {
	t.Helper()
	err := s.bind(dn, password)
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork {
		t.Fatalf("binding to %s: %v", s.Addr, err)
	}
	return err
}

func (s *Server) bind(dn, password string) error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Bind(dn, password)
}

// dial opens a connection to the server, protected with StartTLS when
// the server has TLS.
func (s *Server) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://"+s.Addr,
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil || s.tls == nil {
		return c, err
	}
	if err := c.StartTLS(s.TLSConfig()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// freeAddr returns a loopback address with a port that is free now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeFile writes a file of the server's directory, readable only by
// its owner.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", filepath.Base(path), err)
	}
}
