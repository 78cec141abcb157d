package ssh_test

import (
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// conformanceConfig runs the suite's sshd without PAM, whose delay after
// each refused password would make the suite's many refused logins slow,
// and so with password logins only.
var conformanceConfig = []string{"UsePAM no", "KbdInteractiveAuthentication no"}

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
		// TODO: run once the driver passes. A change cut short by its
		// deadline after the new key was added leaves both keys
		// authorized, and a reconcile without the current key adds the
		// new key but leaves the unknown one working.
		t.Skip("the ssh driver does not pass the suite with keys yet")
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
			f.secret(v)
			return sdk.NewSecret([]byte(v))
		},
		Reconcile: &sdk.Login{Account: recon, Credential: password(reconPW)},
		Reset: func(t *testing.T, value sdk.Secret) {
			sshd.SetPassword(t, name, string(value.Reveal()))
		},
		Logs: f.allLogs,
	}
}

// keyTarget creates an account that logs in with a key and a reconcile
// account that may run sh as it through sudo, and returns them as a
// target for the suite.
func (f *fixture) keyTarget(t *testing.T) sdktest.Target {
	t.Helper()
	name, _ := f.user(t)
	current, line := f.key(t)
	sshd.AuthorizeKeys(t, name, line)
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
		Reconcile: &sdk.Login{Account: recon, Credential: password(reconPW)},
		Reset: func(t *testing.T, value sdk.Secret) {
			signer, err := xssh.ParsePrivateKey(value.Reveal())
			if err != nil {
				t.Fatalf("parsing the key to reset to: %v", err)
			}
			sshd.AuthorizeKeys(t, name, string(xssh.MarshalAuthorizedKey(signer.PublicKey())))
		},
		Logs: f.allLogs,
	}
}

// allLogs returns the driver's logs and the server's.
func (f *fixture) allLogs() string { return f.logs.String() + "\n" + f.srv.Logs() }
