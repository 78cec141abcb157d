package redis_test

import (
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against the redis
// driver and a real redis-server, in this process and as the plugin an
// agent starts, each on an account of its own that may change its own
// password, with a reconcile account that may change any.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	t.Run("in process", func(t *testing.T) {
		t.Parallel()
		sdktest.Run(t, f.drv, f.conformanceTarget(t))
	})
	t.Run("plugin", func(t *testing.T) {
		t.Parallel()
		sdktest.RunPlugin(t, sdktest.BuildPlugin(t, "./cmd/passman-driver-redis", "redis"), f.conformanceTarget(t))
	})
}

// conformanceTarget creates an account and a reconcile account on the
// fixture's server and returns them as a target for the suite.
func (f *fixture) conformanceTarget(t *testing.T) sdktest.Target {
	t.Helper()
	name, pw := f.user(t, "+acl|setuser")
	rec, recPW := f.user(t, "+acl|getuser", "+acl|setuser")
	return sdktest.Target{
		Target:  f.target(nil),
		Account: name,
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(pw)),
		NewValue: func() sdk.Secret {
			return sdk.NewSecret([]byte(f.newPassword(t)))
		},
		Reconcile: login(rec, recPW),
		Reset: func(t *testing.T, value sdk.Secret) {
			f.srv.SetUser(t, name, "resetpass", ">"+string(value.Reveal()))
		},
		Logs: func() string {
			return f.logs.String() + "\n" + f.srv.Logs() + "\n" + f.srv.SlowLog(t) +
				"\n" + f.mon.Flush(t)
		},
	}
}
