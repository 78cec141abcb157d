package ssh_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	xssh "golang.org/x/crypto/ssh"

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

	logs    syncBuffer
	mu      sync.Mutex
	secrets []string
}

func newFixture(t *testing.T, opts sshd.Options) *fixture {
	t.Helper()
	requireRoot(t)
	f := &fixture{}
	// At this level sshd logs every command it runs, so the check for
	// secrets in its logs covers the command lines too.
	opts.Config = append([]string{"LogLevel DEBUG3"}, opts.Config...)
	f.srv = sshd.Start(t, opts)
	f.drv = ssh.New(ssh.WithLogger(hclog.New(&hclog.LoggerOptions{
		Name:   "ssh",
		Output: &f.logs,
		Level:  hclog.Trace,
	})))
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
	for _, s := range f.secrets {
		if strings.Contains(srvLogs, s) {
			t.Errorf("sshd logs hold a secret")
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

// user creates a user with a random password and returns both.
func (f *fixture) user(t *testing.T) (name, password string) {
	t.Helper()
	name, password = sshd.UserName(t), sshd.Password(t)
	f.secret(password)
	sshd.CreateUser(t, name, password)
	return name, password
}

// key returns a new key, registered as a secret, and its public line.
func (f *fixture) key(t *testing.T) (private []byte, authorized string) {
	t.Helper()
	private, authorized = sshd.GenerateKey(t)
	f.secret(string(private))
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
	f.noSecret(t, err)
	return err
}

func password(s string) sdk.Credential {
	return sdk.Credential{Type: sdk.Password, Value: sdk.NewSecret([]byte(s))}
}

func sshKey(pem []byte) sdk.Credential {
	return sdk.Credential{Type: sdk.SSHKey, Value: sdk.NewSecret(pem)}
}

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
