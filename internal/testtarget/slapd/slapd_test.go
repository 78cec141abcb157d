package slapd_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/internal/testtarget/slapd"
)

func TestServer(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{})
	pw := slapd.Password(t)
	tricky := `smith, "john"+1`
	trickyDN := srv.AddUser(t, tricky, pw)
	if want := `uid=smith\, \"john\"\+1,ou=people,dc=example,dc=org`; trickyDN != want {
		t.Errorf("DN of %q = %q, want %q", tricky, trickyDN, want)
	}
	plainDN := srv.AddUser(t, "alice", pw)

	tests := []struct {
		name     string
		dn, pass string
		ok       bool
	}{
		{"person", plainDN, pw, true},
		{"escaped person", trickyDN, pw, true},
		{"wrong password", plainDN, pw + "x", false},
		{"unknown person", slapd.DN("bob"), pw, false},
		{"service account", srv.AdminDN, srv.AdminPassword, true},
		{"root", slapd.RootDN, srv.RootPassword, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := srv.Bind(t, tt.dn, tt.pass)
			if (err == nil) != tt.ok {
				t.Errorf("Bind(%s) = %v, want success %v", tt.dn, err, tt.ok)
			}
			if !tt.ok && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Errorf("Bind(%s) = %v, want invalidCredentials", tt.dn, err)
			}
		})
	}

	if !strings.Contains(srv.Logs(), "BIND dn=\""+plainDN+"\"") {
		t.Errorf("slapd logs do not show the bind:\n%s", srv.Logs())
	}
	srv.Stop()
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", srv.Addr)
	}
}

// TestAccess checks the access rules: a person changes its own password,
// not another's; the service account changes anyone's.
func TestAccess(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{})
	alicePW, bobPW := slapd.Password(t), slapd.Password(t)
	alice, bob := srv.AddUser(t, "alice", alicePW), srv.AddUser(t, "bob", bobPW)

	tests := []struct {
		name           string
		as, asPassword string
		target         string
		wantCode       uint16
	}{
		{"another person", alice, alicePW, bob, ldap.LDAPResultInsufficientAccessRights},
		{"service account", srv.AdminDN, srv.AdminPassword, bob, ldap.LDAPResultSuccess},
		// Last: it changes the password the others bind with.
		{"self", alice, alicePW, alice, ldap.LDAPResultSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ldap.DialURL("ldap://" + srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind(tt.as, tt.asPassword); err != nil {
				t.Fatalf("binding: %v", err)
			}
			_, err = c.PasswordModify(ldap.NewPasswordModifyRequest(tt.target, "",
				slapd.Password(t)))
			if tt.wantCode == ldap.LDAPResultSuccess && err != nil ||
				tt.wantCode != ldap.LDAPResultSuccess && !ldap.IsErrorWithCode(err, tt.wantCode) {
				t.Errorf("PasswordModify = %v, want result %d", err, tt.wantCode)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{TLS: true})
	pw := slapd.Password(t)
	dn := srv.AddUser(t, "alice", pw)

	t.Run("starttls", func(t *testing.T) {
		c, err := ldap.DialURL("ldap://" + srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(srv.TLSConfig()); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if err := c.Bind(dn, pw); err != nil {
			t.Errorf("binding over StartTLS: %v", err)
		}
	})
	t.Run("ldaps", func(t *testing.T) {
		c, err := ldap.DialURL("ldaps://"+srv.LDAPSAddr,
			ldap.DialWithTLSConfig(srv.TLSConfig()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(dn, pw); err != nil {
			t.Errorf("binding over LDAPS: %v", err)
		}
	})
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{Policy: &slapd.Policy{MaxFailures: 2, MinLength: 12}})
	pw := slapd.Password(t)
	dn := srv.AddUser(t, "alice", pw)

	t.Run("short password", func(t *testing.T) {
		c, err := ldap.DialURL("ldap://" + srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(dn, pw); err != nil {
			t.Fatal(err)
		}
		_, err = c.PasswordModify(ldap.NewPasswordModifyRequest("", pw, "short"))
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) {
			t.Errorf("PasswordModify to a short password = %v, want constraintViolation", err)
		}
	})
	t.Run("lockout", func(t *testing.T) {
		for range 2 {
			if err := srv.Bind(t, dn, "wrong"); err == nil {
				t.Fatal("a wrong password worked")
			}
		}
		if err := srv.Bind(t, dn, pw); err == nil {
			t.Error("the right password still works after the lockout")
		}
	})
}

func TestRequireTLS(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{RequireTLS: true})
	pw := slapd.Password(t)
	dn := srv.AddUser(t, "alice", pw)
	if err := srv.Bind(t, dn, pw); err != nil {
		t.Errorf("binding over StartTLS: %v", err)
	}

	c, err := ldap.DialURL("ldap://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Bind(dn, pw)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) {
		t.Errorf("binding without TLS = %v, want confidentialityRequired", err)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	srv := slapd.Start(t, slapd.Options{})
	old, pw := slapd.Password(t), slapd.Password(t)
	dn := srv.AddUser(t, "alice", old)
	srv.SetPassword(t, "alice", pw)
	if err := srv.Bind(t, dn, pw); err != nil {
		t.Errorf("binding with the new password: %v", err)
	}
	if err := srv.Bind(t, dn, old); err == nil {
		t.Error("binding with the old password still works")
	}
}
