package slapd

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// policyDN is the entry of the default password policy.
const policyDN = "cn=default,ou=policies," + Suffix

// DN returns the DN of the person whose uid is uid, escaped as RFC 4514
// requires.
func DN(uid string) string {
	return strings.Replace(PeopleTemplate, "{account}", ldap.EscapeDN(uid), 1)
}

// ServiceDN returns the DN of the service account whose cn is cn.
func ServiceDN(cn string) string {
	return strings.Replace(ServiceTemplate, "{account}", ldap.EscapeDN(cn), 1)
}

// Password returns a random password of 20 characters mixing letters,
// digits and symbols.
func Password(t testing.TB) string {
	t.Helper()
	return "Ld-" + rand.Text()[:13] + "x9.z"
}

// AddUser adds a person with uid and password under ou=people and
// returns its DN. The password is stored hashed.
func (s *Server) AddUser(t testing.TB, uid, password string) string {
	t.Helper()
	dn := DN(uid)
	s.add(t, dn, map[string][]string{
		"objectClass":  {"inetOrgPerson"},
		"uid":          {uid},
		"cn":           {uid},
		"sn":           {"Test"},
		"userPassword": {hashPassword(t, password)},
	})
	return dn
}

// SetPassword replaces the password of the person whose uid is uid, as
// the root DN, without any client of the tests knowing the old one.
func (s *Server) SetPassword(t testing.TB, uid, password string) {
	t.Helper()
	c := s.rootConn(t)
	defer c.Close()
	req := ldap.NewModifyRequest(DN(uid), nil)
	req.Replace("userPassword", []string{hashPassword(t, password)})
	if err := c.Modify(req); err != nil {
		t.Fatalf("setting the password of %s: %v", uid, err)
	}
}

// addBase adds the suffix, the organisational units, the service
// account and, with a policy, the policy entry.
func (s *Server) addBase(t testing.TB, p *Policy) {
	t.Helper()
	s.add(t, Suffix, map[string][]string{
		"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"},
	})
	for _, ou := range []string{"people", "services", "policies"} {
		s.add(t, "ou="+ou+","+Suffix, map[string][]string{
			"objectClass": {"organizationalUnit"}, "ou": {ou},
		})
	}
	s.add(t, s.AdminDN, map[string][]string{
		"objectClass":  {"organizationalRole", "simpleSecurityObject"},
		"cn":           {AdminName},
		"userPassword": {hashPassword(t, s.AdminPassword)},
	})
	if p != nil {
		s.add(t, policyDN, policyEntry(p))
	}
}

// policyEntry returns the attributes of the ppolicy entry for p.
func policyEntry(p *Policy) map[string][]string {
	attrs := map[string][]string{
		"objectClass":  {"device", "pwdPolicy"},
		"cn":           {"default"},
		"pwdAttribute": {"userPassword"},
	}
	if p.MaxFailures > 0 {
		attrs["pwdLockout"] = []string{"TRUE"}
		attrs["pwdMaxFailure"] = []string{strconv.Itoa(p.MaxFailures)}
	}
	if p.MinLength > 0 {
		// Quality 2 makes the server refuse what it cannot check,
		// rather than let it through.
		attrs["pwdMinLength"] = []string{strconv.Itoa(p.MinLength)}
		attrs["pwdCheckQuality"] = []string{"2"}
	}
	return attrs
}

// add adds an entry as the root DN.
func (s *Server) add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	c := s.rootConn(t)
	defer c.Close()
	req := ldap.NewAddRequest(dn, nil)
	for name, values := range attrs {
		req.Attribute(name, values)
	}
	if err := c.Add(req); err != nil {
		t.Fatalf("adding %s: %v", dn, err)
	}
}

// hashPassword returns password as a salted SHA-1 userPassword value,
// the scheme every slapd understands without a module.
func hashPassword(t testing.TB, password string) string {
	t.Helper()
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	sum := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// rootConn returns a connection bound as the root DN.
func (s *Server) rootConn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := s.dial()
	if err != nil {
		t.Fatalf("connecting to slapd: %v", err)
	}
	if err := c.Bind(RootDN, s.RootPassword); err != nil {
		c.Close()
		t.Fatalf("binding as the root DN: %v", err)
	}
	return c
}
