package ssh_test

import (
	"os"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/ssh"
)

// requireRoot skips a test that needs root when run by hand without it.
// In CI the tests must run, so there it fails instead.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root to run sshd and create users")
	}
	t.Fatal("needs root to run sshd and create users")
}

// fixture is a real sshd and an ssh driver whose logs are kept. At
// cleanup it fails the test if any secret it was told of appears in the
// logs of either.
type fixture struct {
	srv *sshd.Server
	drv *ssh.Driver

	logs    drivertest.Log
	secrets drivertest.Secrets
}

func newFixture(t *testing.T, opts sshd.Options) *fixture {
	t.Helper()
	requireRoot(t)
	f := &fixture{}
	// At this level sshd logs every command it runs, so the check for
	// secrets in its logs covers the command lines too.
	opts.Config = append([]string{"LogLevel DEBUG3"}, opts.Config...)
	f.srv = sshd.Start(t, opts)
	f.drv = ssh.New(ssh.WithLogger(f.logs.Logger("ssh")))
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	f.secrets.CheckLogs(t, map[string]string{"sshd": f.srv.Logs(), "driver": f.logs.String()})
	if t.Failed() {
		t.Logf("driver logs:\n%s", f.logs.String())
	}
}

// user creates a user with a random password and returns both.
func (f *fixture) user(t *testing.T) (name, password string) {
	t.Helper()
	name, password = sshd.UserName(t), sshd.Password(t)
	f.secrets.Add(password)
	sshd.CreateUser(t, name, password)
	return name, password
}

// key returns a new key, registered as a secret, and its public line.
func (f *fixture) key(t *testing.T) (private []byte, authorized string) {
	t.Helper()
	private, authorized = sshd.GenerateKey(t)
	f.secrets.Add(string(private))
	return private, authorized
}

// target is the fixture's server as a pinned target.
func (f *fixture) target(params map[string]string) sdk.Target {
	return sdk.Target{Address: f.srv.Addr, HostKey: f.srv.HostKey, Params: params}
}

func (f *fixture) check(t *testing.T, account string, cred sdk.Credential) error {
	t.Helper()
	_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{
		JobID:      "job-check",
		Target:     f.target(nil),
		Account:    account,
		Credential: cred,
	})
	f.secrets.CheckError(t, err)
	return err
}

func sshKey(pem []byte) sdk.Credential {
	return sdk.Credential{Type: sdk.SSHKey, Value: sdk.NewSecret(pem)}
}

// plainLogin logs in with x/crypto/ssh directly, outside the driver, to
// tell what the server accepts.
func plainLogin(addr, user string, auth xssh.AuthMethod) error {
	c, err := xssh.Dial("tcp", addr, &xssh.ClientConfig{
		User:            user,
		Auth:            []xssh.AuthMethod{auth},
		HostKeyCallback: xssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		return err
	}
	return c.Close()
}

func plainPassword(pw string) xssh.AuthMethod { return xssh.Password(pw) }

func plainKey(t *testing.T, pem []byte) xssh.AuthMethod {
	t.Helper()
	signer, err := xssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatalf("parsing key: %v", err)
	}
	return xssh.PublicKeys(signer)
}
