package postgres_test

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/internal/drivertest"
	pgtest "github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/plugins/postgres"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := postgres.New().Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range d.Params {
		names = append(names, p.Name)
		if p.Required {
			t.Errorf("parameter %s is required; all have defaults", p.Name)
		}
	}
	slices.Sort(names)
	got := []any{d.Name, d.CredentialTypes, names, d.Reconcile}
	want := []any{"postgres", []string{sdk.Password}, []string{"connect_timeout", "database",
		"password_encryption", "sslmode", "sslrootcert"}, true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Options{})
	role, pw := f.role(t)
	locked, lockedPW := f.role(t, "NOLOGIN")
	wrong := pw + "x"
	f.secrets.Add(wrong)

	tests := []struct {
		name   string
		target sdk.Target
		role   string
		cred   sdk.Credential
		want   sdk.Reason
	}{
		{"right password", f.target(), role, drivertest.Password(pw), ""},
		{"wrong password", f.target(), role, drivertest.Password(wrong), sdk.ReasonAuthFailed},
		{"unknown role", f.target(), pgtest.RoleName(t), drivertest.Password(pw), sdk.ReasonAuthFailed},
		{"NOLOGIN role", f.target(), locked, drivertest.Password(lockedPW), sdk.ReasonLockedOut},
		{"no such database", f.target("database", "nodb"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"other database", f.target("database", "template1"), role, drivertest.Password(pw), ""},
		{"explicit defaults", f.target("sslmode", "prefer", "connect_timeout", "5s",
			"password_encryption", "scram-sha-256"), role, drivertest.Password(pw), ""},
		{"TLS required of a server without it", f.target("sslmode", "require"), role,
			drivertest.Password(pw), sdk.ReasonFailed},
		{"ssh key", f.target(), role, sdk.Credential{Type: sdk.SSHKey,
			Value: secret(pw)}, sdk.ReasonUnsupported},
		{"empty password", f.target(), role, drivertest.Password(""), sdk.ReasonInvalidParams},
		{"role name too long", f.target(), strings.Repeat("r", 64), drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"md5 encryption", f.target("password_encryption", "md5"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"unknown parameter", f.target("host", "elsewhere"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"bad sslmode", f.target("sslmode", "allow"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"socket path as address", target("/var/run/postgresql"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
		{"two hosts as address", target("a,b:5432"), role, drivertest.Password(pw),
			sdk.ReasonInvalidParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{JobID: "job-check",
				Target: tc.target, Account: tc.role, Credential: tc.cred})
			wantReason(t, err, tc.want, pw, wrong, lockedPW)
		})
	}
}

// TestCheckAuthMethods proves that the driver logs in with scram-sha-256
// only: a server that asks for the password in clear gets nothing, and
// one that asks for no password proves nothing.
func TestCheckAuthMethods(t *testing.T) {
	t.Parallel()
	clear, trusted, rejected := pgtest.RoleName(t), pgtest.RoleName(t), pgtest.RoleName(t)
	f := newFixture(t, pgtest.Options{HBA: []string{
		"host all " + clear + " 127.0.0.1/32 password",
		"host all " + trusted + " 127.0.0.1/32 trust",
		"host all " + rejected + " 127.0.0.1/32 reject",
	}})
	pw := pgtest.Password(t)
	f.secrets.Add(pw)
	for _, r := range []string{clear, trusted, rejected} {
		f.srv.CreateRole(t, r, pw)
	}

	tests := []struct {
		name, role string
		want       sdk.Reason
	}{
		{"password in clear", clear, sdk.ReasonUnsupported},
		{"trust", trusted, sdk.ReasonUnsupported},
		{"rejected by pg_hba.conf", rejected, sdk.ReasonAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{Target: f.target(),
				Account: tc.role, Credential: drivertest.Password(pw)})
			wantReason(t, err, tc.want, pw)
		})
	}
}

func TestCheckTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Options{TLS: true})
	role, pw := f.role(t)
	_, port, _ := net.SplitHostPort(f.srv.Addr)
	byName := target(net.JoinHostPort("localhost", port))

	tests := []struct {
		name   string
		target sdk.Target
		want   sdk.Reason
	}{
		{"prefer", f.target(), ""},
		{"require", f.target("sslmode", "require"), ""},
		{"disable", f.target("sslmode", "disable"), ""},
		{"verify-ca", f.target("sslmode", "verify-ca", "sslrootcert", f.srv.CACert), ""},
		{"verify-full", f.target("sslmode", "verify-full", "sslrootcert", f.srv.CACert), ""},
		{"verify-full by name", withParams(byName, "sslmode", "verify-full",
			"sslrootcert", f.srv.CACert), ""},
		{"verify-full with other CAs", f.target("sslmode", "verify-full",
			"sslrootcert", "system"), sdk.ReasonFailed},
		{"missing CA file", f.target("sslmode", "verify-full",
			"sslrootcert", "/nonexistent/ca.pem"), sdk.ReasonInvalidParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{Target: tc.target,
				Account: role, Credential: drivertest.Password(pw)})
			wantReason(t, err, tc.want, pw)
		})
	}
}

func withParams(t sdk.Target, params ...string) sdk.Target {
	for i := 0; i+1 < len(params); i += 2 {
		t.Params[params[i]] = params[i+1]
	}
	return t
}

// TestNetwork runs the SDK's checks of a target that does not answer: a
// closed port, an unknown host and a listener that never says anything.
func TestNetwork(t *testing.T) {
	t.Parallel()
	sdktest.Network(t, postgres.New(), sdk.Target{}, "app")
}
