package postgres_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	pgtest "github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/plugins/postgres"
	"github.com/passman-dev/passman/plugins/sdk"
)

// requireRoot skips a test that needs root when run by hand without it.
// In CI the tests must run, so there it fails instead.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root to run postgres as the postgres user")
	}
	t.Fatal("needs root to run postgres as the postgres user")
}

// fixture is a real PostgreSQL server and a postgres driver whose logs
// are kept. At cleanup it fails the test if any secret it was told of
// appears in the logs of either; the server logs every statement.
type fixture struct {
	srv *pgtest.Server
	drv *postgres.Driver

	logs    drivertest.Log
	secrets drivertest.Secrets
}

func newFixture(t *testing.T, opts pgtest.Options) *fixture {
	t.Helper()
	requireRoot(t)
	f := &fixture{srv: pgtest.StartWith(t, opts)}
	f.drv = postgres.New(postgres.WithLogger(f.logs.Logger("postgres")))
	f.secrets.Add(f.srv.SuperPassword)
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

// role creates a role that logs in with a new password, with extra
// attributes, and returns its name and password.
func (f *fixture) role(t *testing.T, attrs ...string) (string, string) {
	t.Helper()
	name, pw := pgtest.RoleName(t), pgtest.Password(t)
	f.srv.CreateRole(t, name, pw, attrs...)
	f.secrets.Add(pw)
	return name, pw
}

// target returns the server as a target, with params given as name,
// value pairs.
func (f *fixture) target(params ...string) sdk.Target {
	return target(f.srv.Addr, params...)
}

func target(addr string, params ...string) sdk.Target {
	t := sdk.Target{Address: addr, Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		t.Params[params[i]] = params[i+1]
	}
	return t
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	f.secrets.CheckLogs(t, map[string]string{"postgres": f.srv.Logs(), "driver": f.logs.String()})
}

// wantReason fails the test unless err is an *sdk.Error with reason
// want, or nil when want is empty, and holds none of secrets.
func wantReason(t *testing.T, err error, want sdk.Reason, secrets ...string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error = %v, want none", err)
		}
		return
	}
	var se *sdk.Error
	if err != nil {
		t.Logf("error: %v", err)
	}
	if !errors.As(err, &se) || se.Reason != want {
		t.Fatalf("error = %v, want reason %s", err, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(se.Message, s) {
			t.Errorf("the error message holds a secret: %s", se.Reason)
		}
	}
}

// secret returns a sdk.Secret holding s.
func secret(s string) sdk.Secret { return sdk.NewSecret([]byte(s)) }
