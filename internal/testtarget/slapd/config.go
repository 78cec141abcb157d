package slapd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// schemaDir holds the schema files Debian's slapd package installs.
const schemaDir = "/etc/ldap/schema"

// schemas are the schema files every server loads, in order.
var schemas = []string{"core", "cosine", "inetorgperson", "nis"}

// certFiles are the PEM files of a server's TLS setup.
type certFiles struct {
	ca, cert, key string
}

// writeConfig writes slapd.conf into dir, for a database in dir/data,
// and returns its path.
func writeConfig(t testing.TB, dir, rootPassword string, certs *certFiles,
	opts Options) string {
	t.Helper()
	policy := opts.Policy
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("creating the database directory: %v", err)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, s := range schemas {
		line("include %s", filepath.Join(schemaDir, s+".schema"))
	}
	line("pidfile %s", filepath.Join(dir, "slapd.pid"))
	line("argsfile %s", filepath.Join(dir, "slapd.args"))
	line("modulepath /usr/lib/ldap")
	line("moduleload back_mdb")
	if policy != nil {
		line("moduleload ppolicy")
	}
	if certs != nil {
		line("TLSCACertificateFile %s", certs.ca)
		line("TLSCertificateFile %s", certs.cert)
		line("TLSCertificateKeyFile %s", certs.key)
	}
	if opts.RequireTLS {
		line("security simple_bind=1")
	}

	line("database mdb")
	line("maxsize %d", 64<<20)
	line("suffix %q", Suffix)
	line("rootdn %q", RootDN)
	line("rootpw %s", hashPassword(t, rootPassword))
	line("directory %s", data)
	if policy != nil {
		line("overlay ppolicy")
		line("ppolicy_default %q", policyDN)
		line("ppolicy_use_lockout")
	}
	b.WriteString(accessRules)

	path := filepath.Join(dir, "slapd.conf")
	writeFile(t, path, []byte(b.String()))
	return path
}

// accessRules let an entry change its own password and the service
// account change every password; binding needs auth access to it.
var accessRules = fmt.Sprintf(`access to attrs=userPassword
	by self write
	by dn.exact=%[1]q write
	by anonymous auth
	by * none
access to *
	by self read
	by dn.exact=%[1]q read
	by * none
`, ServiceDN(AdminName))

// writeCertificates writes a new CA, and a certificate it signs for
// 127.0.0.1 and localhost with its key, into dir.
func writeCertificates(t testing.TB, dir string) *certFiles {
	t.Helper()
	f := &certFiles{
		ca:   filepath.Join(dir, "ca.pem"),
		cert: filepath.Join(dir, "server.pem"),
		key:  filepath.Join(dir, "server.key"),
	}
	caKey, caCert := newCA(t)
	key := newKey(t)
	tmpl := certTemplate("slapd test server")
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.DNSNames = []string{"localhost"}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("signing the server certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the server key: %v", err)
	}
	writeFile(t, f.ca, pemBlock("CERTIFICATE", caCert.Raw))
	writeFile(t, f.cert, pemBlock("CERTIFICATE", der))
	writeFile(t, f.key, pemBlock("PRIVATE KEY", keyDER))
	return f
}

// newCA returns a new self-signed CA and its key.
func newCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := certTemplate("slapd test CA")
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating the CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing the CA certificate: %v", err)
	}
	return key, cert
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return key
}

// certTemplate returns a template valid from a minute ago for a day.
func certTemplate(name string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
