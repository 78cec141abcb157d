package redis_test

import (
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	driver "github.com/passman-dev/passman/plugins/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

// fixture is a real redis-server, a monitor on it and a redis driver
// whose logs are kept. At cleanup it fails the test if any secret it was
// told of appears in the driver's logs, the server's log, its slow log
// or what its monitor saw.
type fixture struct {
	srv *redis.Server
	mon *redis.Monitor
	drv *driver.Driver

	logs    drivertest.Log
	secrets drivertest.Secrets
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, redis.Options{})
}

// newFixtureWith is newFixture with a server run with opts.
func newFixtureWith(t *testing.T, opts redis.Options) *fixture {
	t.Helper()
	f := &fixture{srv: redis.StartWith(t, opts)}
	f.mon = f.srv.Monitor(t)
	f.drv = driver.New(driver.WithLogger(f.logs.Logger("redis")))
	f.secrets.Add(f.srv.AdminPassword)
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	f.secrets.CheckLogs(t, map[string]string{
		"driver":   f.logs.String(),
		"server":   f.srv.Logs(),
		"slow log": f.srv.SlowLog(t),
		"monitor":  f.mon.Flush(t),
	})
	if t.Failed() {
		t.Logf("driver logs:\n%s", f.logs.String())
	}
}

// user creates an ACL user with a random password and rules, and returns
// both.
func (f *fixture) user(t *testing.T, rules ...string) (name, password string) {
	t.Helper()
	name, password = redis.UserName(t), redis.Password(t)
	f.secrets.Add(password)
	f.srv.CreateUser(t, name, password, rules...)
	return name, password
}

// newPassword returns a random password registered as a secret.
func (f *fixture) newPassword(t *testing.T) string {
	t.Helper()
	pw := redis.Password(t)
	f.secrets.Add(pw)
	return pw
}

// target is the fixture's server as a target.
func (f *fixture) target(params map[string]string) sdk.Target {
	return sdk.Target{Address: f.srv.Addr, Params: params}
}

// change asks the driver to change account's password from current to
// next, logging in with rec when it is not nil.
func (f *fixture) change(t *testing.T, account, current, next string, rec *sdk.Login) error {
	t.Helper()
	_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
		JobID:     "job-change",
		Target:    f.target(nil),
		Account:   account,
		Type:      sdk.Password,
		Current:   sdk.NewSecret([]byte(current)),
		New:       sdk.NewSecret([]byte(next)),
		Reconcile: rec,
	})
	f.secrets.CheckError(t, err)
	return err
}

// wantAuth fails the test unless the server accepts user's password.
func (f *fixture) wantAuth(t *testing.T, what, user, password string) {
	t.Helper()
	if err := f.srv.CanAuth(t, user, password); err != nil {
		t.Errorf("AUTH %s with %s: %v", user, what, err)
	}
}

// wantRefused fails the test unless the server refuses user's password.
func (f *fixture) wantRefused(t *testing.T, what, user, password string) {
	t.Helper()
	err := f.srv.CanAuth(t, user, password)
	if err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH %s with %s: %v, want WRONGPASS", user, what, err)
	}
}

// wantNoUser fails the test if the server has an ACL user name.
func (f *fixture) wantNoUser(t *testing.T, name string) {
	t.Helper()
	if f.srv.HasUser(t, name) {
		t.Errorf("the server has an ACL user %s; it must not", name)
	}
}

// login returns the login of a reconcile account.
func login(account, pw string) *sdk.Login {
	return &sdk.Login{Account: account, Credential: drivertest.Password(pw)}
}
