package ldap_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

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

	logs    syncBuffer
	mu      sync.Mutex
	secrets []string
}

func newFixture(t *testing.T, opts slapd.Options) *fixture {
	t.Helper()
	f := &fixture{srv: slapd.Start(t, opts)}
	f.drv = ldap.New(ldap.WithLogger(hclog.New(&hclog.LoggerOptions{
		Name:   "ldap",
		Output: &f.logs,
		Level:  hclog.Trace,
	})))
	f.secret(f.srv.RootPassword, f.srv.AdminPassword)
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

// secret registers values that must never appear in logs or errors.
func (f *fixture) secret(values ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, values...)
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	srvLogs, drvLogs := f.srv.Logs(), f.logs.String()
	if drvLogs == "" {
		t.Error("the driver logged nothing: nothing was scanned")
	}
	for _, s := range f.secrets {
		if strings.Contains(srvLogs, s) {
			t.Errorf("slapd logs hold a secret")
		}
		if strings.Contains(drvLogs, s) {
			t.Errorf("driver logs hold a secret")
		}
	}
	if t.Failed() {
		t.Logf("driver logs:\n%s", drvLogs)
	}
}

// noSecret fails the test if err's message holds a registered secret.
func (f *fixture) noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error message holds a secret: %v", err)
		}
	}
}

// user adds a person with a random password and returns the password.
func (f *fixture) user(t *testing.T, uid string) string {
	t.Helper()
	pw := slapd.Password(t)
	f.secret(pw)
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
	_, err := f.drv.Check(timeoutContext(t, 20*time.Second), &sdk.CheckRequest{
		JobID:      "job-check",
		Target:     f.target(params),
		Account:    account,
		Credential: password(pw),
	})
	f.noSecret(t, err)
	return err
}

// change runs the driver's Change against the fixture's server.
func (f *fixture) change(t *testing.T, req *sdk.ChangeRequest) error {
	t.Helper()
	if req.Target.Address == "" {
		req.Target = f.target(nil)
	}
	req.JobID = "job-change"
	_, err := f.drv.Change(timeoutContext(t, 20*time.Second), req)
	f.noSecret(t, err)
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
	return &sdk.Login{Account: slapd.AdminName, Credential: password(f.srv.AdminPassword)}
}

func password(s string) sdk.Credential {
	return sdk.Credential{Type: sdk.Password, Value: secret(s)}
}

func secret(s string) sdk.Secret { return sdk.NewSecret([]byte(s)) }

// reason returns the reason of a driver error, or "" for nil.
func reason(t *testing.T, err error) sdk.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
	}
	return e.Reason
}

// timeoutContext returns a context for one test step.
func timeoutContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
