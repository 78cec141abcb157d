package ssh_test

import (
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// conformanceConfig runs the suite's sshd without PAM, whose delay after
// each refused password would make the suite's many refused logins slow.
// Its keyboard-interactive method stays on, with nothing to ask.
var conformanceConfig = []string{"UsePAM no"}

// TestConformance runs the SDK's conformance suite against the ssh driver
// and a real sshd, each run on accounts of its own. The suite's plugin
// run is left to the file driver's tests, which cover the same process
// boundary in far less time.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{Config: conformanceConfig})
	t.Run("password in process", func(t *testing.T) {
		t.Parallel()
		sdktest.Run(t, f.drv, f.passwordTarget(t))
	})
	t.Run("ssh-key in process", func(t *testing.T) {
		t.Parallel()
		sdktest.Run(t, f.drv, f.keyTarget(t))
	})
}

// passwordTarget creates an account and a reconcile account that may run
// chpasswd through sudo, and returns them as a target for the suite.
func (f *fixture) passwordTarget(t *testing.T) sdktest.Target {
	t.Helper()
	name, pw := f.user(t)
	recon, reconPW := f.user(t)
	sshd.AllowSudo(t, recon, sshd.SudoRule{
		NoPassword: true, Commands: []string{"/usr/sbin/chpasswd"},
	})
	return sdktest.Target{
		Target:  f.target(nil),
		Account: name,
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(pw)),
		NewValue: func() sdk.Secret {
			v := sshd.Password(t)
			f.secrets.Add(v)
			return sdk.NewSecret([]byte(v))
		},
		Reconcile: &sdk.Login{Account: recon, Credential: drivertest.Password(reconPW)},
		Reset: func(t *testing.T, value sdk.Secret) {
			sshd.SetPassword(t, name, string(value.Reveal()))
		},
		Logs: f.allLogs,
	}
}

// keyTarget creates an account that logs in with a key and a reconcile
// account that may run sh as it through sudo, and returns them as a
// target for the suite. The account's authorized_keys also holds a
// colleague's key, which must still log in once the suite is done.
func (f *fixture) keyTarget(t *testing.T) sdktest.Target {
	t.Helper()
	name, _ := f.user(t)
	current, line := f.key(t)
	colleagueKey, colleague := f.key(t)
	sshd.AuthorizeKeys(t, name, colleague, line)
	t.Cleanup(func() {
		if err := plainLogin(f.srv.Addr, name, plainKey(t, colleagueKey)); err != nil {
			t.Errorf("the colleague's key no longer logs in after the suite: %v", err)
		}
	})
	recon, reconPW := f.user(t)
	sshd.AllowSudo(t, recon, sshd.SudoRule{
		RunAs: name, NoPassword: true, Commands: []string{"/bin/sh", "/usr/bin/sh"},
	})
	return sdktest.Target{
		Target:  f.target(nil),
		Account: name,
		Type:    sdk.SSHKey,
		Current: sdk.NewSecret(current),
		NewValue: func() sdk.Secret {
			v, _ := f.key(t)
			return sdk.NewSecret(v)
		},
		Reconcile: &sdk.Login{Account: recon, Credential: drivertest.Password(reconPW)},
		// Reset puts the key where the driver keeps the key it manages,
		// after its marker, as an operator who set the account's key by
		// hand would. Beside it stays a key of someone else, which no
		// change may touch.
		Reset: func(t *testing.T, value sdk.Secret) {
			sshd.AuthorizeKeys(t, name, colleague, managedMarker, authorized(t, value.Reveal()))
		},
		Logs: f.allLogs,
	}
}

// allLogs returns the driver's logs and the server's.
func (f *fixture) allLogs() string { return f.logs.String() + "\n" + f.srv.Logs() }
