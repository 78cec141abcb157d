package postgres_test

import (
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	pgtest "github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against the postgres
// driver and a real server, in this process and as the plugin an agent
// starts, each on a role of its own with a CREATEROLE role to reconcile.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Options{})
	t.Run("in process", func(t *testing.T) {
		t.Parallel()
		sdktest.Run(t, f.drv, f.conformanceTarget(t))
	})
	t.Run("plugin", func(t *testing.T) {
		t.Parallel()
		bin := sdktest.BuildPlugin(t, "./cmd/passman-driver-postgres", "postgres")
		sdktest.RunPlugin(t, bin, f.conformanceTarget(t))
	})
}

// conformanceTarget creates a role and a reconcile role on the fixture's
// server and returns them as a target for the suite.
func (f *fixture) conformanceTarget(t *testing.T) sdktest.Target {
	t.Helper()
	role, pw := f.role(t)
	recon, reconPW := f.role(t, "CREATEROLE")
	return sdktest.Target{
		Target:  f.target(),
		Account: role,
		Type:    sdk.Password,
		Current: secret(pw),
		NewValue: func() sdk.Secret {
			v := pgtest.Password(t)
			f.secrets.Add(v)
			return secret(v)
		},
		Reconcile: &sdk.Login{Account: recon, Credential: drivertest.Password(reconPW)},
		Reset: func(t *testing.T, value sdk.Secret) {
			f.srv.SetPassword(t, role, string(value.Reveal()))
		},
		Logs: func() string { return f.logs.String() + "\n" + f.srv.Logs() },
	}
}
