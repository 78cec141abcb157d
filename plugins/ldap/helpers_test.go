package ldap_test

import (
	"maps"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/slapd"
	"github.com/passman-dev/passman/plugins/ldap"
	"github.com/passman-dev/passman/plugins/sdk"
)

// fixture is a real slapd and an ldap driver whose logs are kept. At
// cleanup it fails the test if any secret it was told of appears in the
// logs of either.
type fixture struct {
	srv *slapd.Server
	drv *ldap.Driver

	logs    drivertest.Log
	secrets drivertest.Secrets
}

func newFixture(t *testing.T, opts slapd.Options) *fixture {
	t.Helper()
	f := &fixture{srv: slapd.Start(t, opts)}
	f.drv = ldap.New(ldap.WithLogger(f.logs.Logger("ldap")))
	f.secrets.Add(f.srv.RootPassword, f.srv.AdminPassword)
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	drvLogs := f.logs.String()
	if drvLogs == "" {
		t.Error("the driver logged nothing: nothing was scanned")
	}
	f.secrets.CheckLogs(t, map[string]string{"slapd": f.srv.Logs(), "driver": drvLogs})
	if t.Failed() {
		t.Logf("driver logs:\n%s", drvLogs)
	}
}

// user adds a person with a random password and returns the password.
func (f *fixture) user(t *testing.T, uid string) string {
	t.Helper()
	pw := slapd.Password(t)
	f.secrets.Add(pw)
	f.srv.AddUser(t, uid, pw)
	return pw
}

// target is the fixture's server as a target: people are accounts, the
// service accounts reconcile them, and the connection is plain, which
// only a test on the loopback may use. params add to these or replace
// them.
func (f *fixture) target(params map[string]string) sdk.Target {
	p := map[string]string{
		"user_dn_template":      slapd.PeopleTemplate,
		"reconcile_dn_template": slapd.ServiceTemplate,
		"tls":                   "none",
	}
	maps.Copy(p, params)
	return sdk.Target{Address: f.srv.Addr, Params: p}
}

// check runs the driver's Check against the fixture's server.
func (f *fixture) check(t *testing.T, account, pw string, params map[string]string) error {
	t.Helper()
	_, err := f.drv.Check(drivertest.Context(t, 20*time.Second), &sdk.CheckRequest{
		JobID:      "job-check",
		Target:     f.target(params),
		Account:    account,
		Credential: drivertest.Password(pw),
	})
	f.secrets.CheckError(t, err)
	return err
}

// change runs the driver's Change against the fixture's server.
func (f *fixture) change(t *testing.T, req *sdk.ChangeRequest) error {
	t.Helper()
	if req.Target.Address == "" {
		req.Target = f.target(nil)
	}
	req.JobID = "job-change"
	_, err := f.drv.Change(drivertest.Context(t, 20*time.Second), req)
	f.secrets.CheckError(t, err)
	return err
}

// wantBind fails the test unless uid binds with pw, or, when ok is
// false, unless the server refuses it.
func (f *fixture) wantBind(t *testing.T, what, uid, pw string, ok bool) {
	t.Helper()
	err := f.srv.Bind(t, slapd.DN(uid), pw)
	switch {
	case ok && err != nil:
		t.Errorf("binding as %s with %s: %v", uid, what, err)
	case !ok && err == nil:
		t.Errorf("binding as %s with %s worked; it must be refused", uid, what)
	}
}

// admin is the login of the server's reconcile account.
func (f *fixture) admin() *sdk.Login {
	return &sdk.Login{Account: slapd.AdminName, Credential: drivertest.Password(f.srv.AdminPassword)}
}

func secret(s string) sdk.Secret { return sdk.NewSecret([]byte(s)) }
