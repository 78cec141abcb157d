package ldap_test

import (
	"testing"

	"github.com/passman-dev/passman/internal/testtarget/slapd"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against the ldap
// driver and a real slapd, on an account made for it.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	pw := f.user(t, "conformance")
	sdktest.Run(t, f.drv, sdktest.Target{
		Target:  f.target(nil),
		Account: "conformance",
		Type:    sdk.Password,
		Current: secret(pw),
		NewValue: func() sdk.Secret {
			v := slapd.Password(t)
			f.secrets.Add(v)
			return secret(v)
		},
		Reconcile: f.admin(),
		Reset: func(t *testing.T, value sdk.Secret) {
			f.srv.SetPassword(t, "conformance", string(value.Reveal()))
		},
		Logs: f.logs.String,
	})
}
