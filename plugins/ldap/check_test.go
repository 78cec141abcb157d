package ldap_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/netx"
	"github.com/passman-dev/passman/internal/testtarget/slapd"
	"github.com/passman-dev/passman/plugins/ldap"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := ldap.New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Name      string
		Types     []string
		Required  map[string]bool
		Reconcile bool
	}
	got := summary{Name: d.Name, Types: d.CredentialTypes, Required: map[string]bool{},
		Reconcile: d.Reconcile}
	for _, p := range d.Params {
		if p.Description == "" {
			t.Errorf("parameter %s has no description", p.Name)
		}
		got.Required[p.Name] = p.Required
	}
	want := summary{Name: "ldap", Types: []string{sdk.Password}, Reconcile: true,
		Required: map[string]bool{
			"user_dn_template": true, "reconcile_dn_template": false, "tls": false,
			"tls_ca_file": false, "tls_server_name": false, "connect_timeout": false,
		}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	pw := f.user(t, "alice")
	// Each of these characters means something in a DN; the name must
	// reach exactly this entry.
	tricky := `smith, "john"+1=#<x>;\y`
	trickyPW := f.user(t, tricky)

	tests := []struct {
		name    string
		account string
		cred    sdk.Credential
		want    sdk.Reason
	}{
		{"right password", "alice", drivertest.Password(pw), ""},
		{"wrong password", "alice", drivertest.Password(pw + "x"), sdk.ReasonAuthFailed},
		{"unknown account", "bob", drivertest.Password(pw), sdk.ReasonAuthFailed},
		{"escaped name", tricky, drivertest.Password(trickyPW), ""},
		{"escaped name, wrong password", tricky, drivertest.Password(pw), sdk.ReasonAuthFailed},
		{"similar name", "smith, john", drivertest.Password(trickyPW), sdk.ReasonAuthFailed},
		{"name past the template", "alice,ou=people,dc=example,dc=org", drivertest.Password(pw),
			sdk.ReasonAuthFailed},
		{"empty password", "alice", drivertest.Password(""), sdk.ReasonInvalidParams},
		{"ssh key", "alice", sdk.Credential{Type: sdk.SSHKey, Value: secret(pw)},
			sdk.ReasonUnsupported},
		{"control character", "alice\x00", drivertest.Password(pw), sdk.ReasonInvalidParams},
		{"newline", "alice\nuid=bob", drivertest.Password(pw), sdk.ReasonInvalidParams},
		{"leading space", " alice", drivertest.Password(pw), sdk.ReasonInvalidParams},
		{"trailing space", "alice ", drivertest.Password(pw), sdk.ReasonInvalidParams},
		{"empty name", "", drivertest.Password(pw), sdk.ReasonInvalidParams},
		{"too long", strings.Repeat("a", 257), drivertest.Password(pw), sdk.ReasonInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.drv.Check(drivertest.Context(t, 20*time.Second), &sdk.CheckRequest{
				JobID: "job-check", Target: f.target(nil), Account: tt.account,
				Credential: tt.cred,
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Check: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestCheckTLS checks over StartTLS and LDAPS, trusting the server's CA
// through tls_ca_file, and that a certificate that cannot be verified
// stops the check.
func TestCheckTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{TLS: true})
	pw := f.user(t, "alice")

	tests := []struct {
		name   string
		addr   string
		params map[string]string
		want   sdk.Reason
	}{
		{"starttls by default", f.srv.Addr,
			map[string]string{"tls": "", "tls_ca_file": f.srv.CAFile}, ""},
		{"starttls", f.srv.Addr,
			map[string]string{"tls": "starttls", "tls_ca_file": f.srv.CAFile}, ""},
		{"ldaps", f.srv.LDAPSAddr,
			map[string]string{"tls": "ldaps", "tls_ca_file": f.srv.CAFile}, ""},
		{"server name", f.srv.Addr, map[string]string{"tls": "starttls",
			"tls_ca_file": f.srv.CAFile, "tls_server_name": "localhost"}, ""},
		{"unknown CA", f.srv.Addr, map[string]string{"tls": "starttls"}, sdk.ReasonFailed},
		{"ldaps, unknown CA", f.srv.LDAPSAddr, map[string]string{"tls": "ldaps"},
			sdk.ReasonFailed},
		{"wrong server name", f.srv.Addr, map[string]string{"tls": "starttls",
			"tls_ca_file": f.srv.CAFile, "tls_server_name": "ldap.example.org"},
			sdk.ReasonFailed},
		{"ldaps on the plain port", f.srv.Addr,
			map[string]string{"tls": "ldaps", "tls_ca_file": f.srv.CAFile}, sdk.ReasonFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := f.target(tt.params)
			target.Address = tt.addr
			if target.Params["tls"] == "" {
				delete(target.Params, "tls")
			}
			_, err := f.drv.Check(drivertest.Context(t, 20*time.Second), &sdk.CheckRequest{
				Target: target, Account: "alice", Credential: drivertest.Password(pw),
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Check: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestCheckRequireTLS checks a directory that refuses binds without
// TLS: the target's tls=none is what is wrong.
func TestCheckRequireTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{RequireTLS: true})
	pw := f.user(t, "alice")
	err := f.check(t, "alice", pw, nil)
	got := drivertest.Reason(t, err)
	if got != sdk.ReasonInvalidParams || !strings.Contains(err.Error(), "tls") {
		t.Errorf("Check with tls=none: reason %q (%v), want invalid_params naming tls", got, err)
	}
	err = f.check(t, "alice", pw, map[string]string{"tls": "starttls", "tls_ca_file": f.srv.CAFile})
	if err != nil {
		t.Errorf("Check with StartTLS: %v", err)
	}
}

// TestCheckLockedOut checks an entry that the password policy locked
// after failed binds: even its right password is refused, and the
// policy's answer says why.
func TestCheckLockedOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{Policy: &slapd.Policy{MaxFailures: 2}})
	pw := f.user(t, "alice")
	if err := f.check(t, "alice", pw, nil); err != nil {
		t.Fatalf("Check before the lockout: %v", err)
	}
	for range 2 {
		if got := drivertest.Reason(t, f.check(t, "alice", "wrong", nil)); got != sdk.ReasonAuthFailed {
			t.Fatalf("Check with a wrong password: reason %q, want auth_failed", got)
		}
	}
	err := f.check(t, "alice", pw, nil)
	if got := drivertest.Reason(t, err); got != sdk.ReasonLockedOut {
		t.Errorf("Check after the lockout: reason %q (%v), want locked_out", got, err)
	}
}

func TestCheckUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	pw := f.user(t, "alice")
	if err := f.check(t, "alice", pw, nil); err != nil {
		t.Fatalf("Check while the server runs: %v", err)
	}
	f.srv.Stop()

	_, err := f.drv.Check(drivertest.Context(t, 20*time.Second), &sdk.CheckRequest{
		Target: f.target(nil), Account: "alice", Credential: drivertest.Password(pw),
	})
	if got := drivertest.Reason(t, err); got != sdk.ReasonUnreachable {
		t.Errorf("Check of the stopped server: reason %q (%v), want unreachable", got, err)
	}
}

// TestNetwork runs the SDK's checks of a target that does not answer, in
// each TLS mode: a closed port, an unknown host and a listener that never
// says anything.
func TestNetwork(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"none", "starttls", "ldaps"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sdktest.Network(t, ldap.New(), sdk.Target{Params: map[string]string{"tls": mode,
				"user_dn_template": slapd.PeopleTemplate}}, "alice")
		})
	}
}

func TestInvalidParams(t *testing.T) {
	t.Parallel()
	addr := netx.ClosedPort(t)
	tests := []struct {
		name    string
		address string
		params  map[string]string
	}{
		{"no template", addr, map[string]string{}},
		{"no placeholder", addr, map[string]string{"user_dn_template": "uid=x,dc=org"}},
		{"two placeholders", addr,
			map[string]string{"user_dn_template": "uid={account},cn={account},dc=org"}},
		{"placeholder as a type", addr,
			map[string]string{"user_dn_template": "{account}=x,dc=example,dc=org"}},
		{"placeholder alone", addr, map[string]string{"user_dn_template": "{account}"}},
		{"placeholder as an RDN", addr,
			map[string]string{"user_dn_template": "{account},dc=example,dc=org"}},
		{"bad reconcile template", addr, map[string]string{
			"user_dn_template": slapd.PeopleTemplate, "reconcile_dn_template": "admin"}},
		{"bad tls", addr,
			map[string]string{"user_dn_template": slapd.PeopleTemplate, "tls": "yes"}},
		{"bad timeout", addr, map[string]string{
			"user_dn_template": slapd.PeopleTemplate, "connect_timeout": "0s"}},
		{"unknown parameter", addr,
			map[string]string{"user_dn_template": slapd.PeopleTemplate, "base_dn": "x"}},
		{"CA without TLS", addr, map[string]string{"user_dn_template": slapd.PeopleTemplate,
			"tls": "none", "tls_ca_file": "/etc/hostname"}},
		{"missing CA file", addr, map[string]string{"user_dn_template": slapd.PeopleTemplate,
			"tls_ca_file": "/nonexistent/ca.pem"}},
		{"CA file without certificates", addr, map[string]string{
			"user_dn_template": slapd.PeopleTemplate, "tls_ca_file": "/etc/hostname"}},
		{"no address", "", map[string]string{"user_dn_template": slapd.PeopleTemplate}},
		{"space in address", "ldap host:389",
			map[string]string{"user_dn_template": slapd.PeopleTemplate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := sdk.Target{Address: tt.address, Params: tt.params}
			_, err := ldap.New().Check(t.Context(), &sdk.CheckRequest{
				Target: target, Account: "alice", Credential: drivertest.Password("irrelevant"),
			})
			if got := drivertest.Reason(t, err); got != sdk.ReasonInvalidParams {
				t.Errorf("Check: reason %q (%v), want invalid_params", got, err)
			}
			_, err = ldap.New().Change(t.Context(), &sdk.ChangeRequest{
				Target: target, Account: "alice", Type: sdk.Password,
				Current: secret("irrelevant"), New: secret("irrelevant too"),
			})
			if got := drivertest.Reason(t, err); got != sdk.ReasonInvalidParams {
				t.Errorf("Change: reason %q (%v), want invalid_params", got, err)
			}
		})
	}
}
