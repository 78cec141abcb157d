package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// maxOutput bounds how much of a remote command's output is kept.
const maxOutput = 64 << 10

// login is an account and the credential it logs in with.
type login struct {
	account string
	cred    sdk.Credential
}

// conn is a logged-in connection to a target. It closes itself when the
// context it was dialled with is done.
type conn struct {
	client *xssh.Client
	// hostKey is the host key the target presented, in authorized_keys
	// form without a newline.
	hostKey string
	// unwatch stops closing the connection when the context is done.
	unwatch func() bool
}

// dial connects to the target and logs in. Connecting, the handshake and
// the login together get the target's connect timeout.
func dial(ctx context.Context, cfg *config, l login) (*conn, error) {
	auth, state, err := authMethods(l.cred)
	if err != nil {
		return nil, err
	}
	hk := &hostKeyCheck{pinned: cfg.hostKey}
	clientCfg := &xssh.ClientConfig{
		User:              l.account,
		Auth:              auth,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: pinnedAlgorithms(cfg.hostKey),
	}

	dialCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	client, err := handshake(dialCtx, cfg.addr, clientCfg)
	if err != nil {
		return nil, classify(ctx, dialCtx, err, hk, state)
	}
	c := &conn{client: client, hostKey: hk.key()}
	c.unwatch = context.AfterFunc(ctx, func() { _ = client.Close() })
	return c, nil
}

// handshake opens the TCP connection and runs the SSH handshake and
// login, giving up when ctx is done.
func handshake(ctx context.Context, addr string, cfg *xssh.ClientConfig) (*xssh.Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })

	sc, chans, reqs, err := xssh.NewClientConn(nc, addr, cfg)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		return nil, fmt.Errorf("logging in: %w", context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("logging in: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return xssh.NewClient(sc, chans, reqs), nil
}

// Close closes the connection.
func (c *conn) Close() error {
	c.unwatch()
	return c.client.Close()
}

// output is what a remote command printed and how it ended.
type output struct {
	stdout, stderr string
	// status is the exit status.
	status int
}

// run runs command on the target with stdin as its standard input. The
// command line must hold no secret; secrets go in stdin. A non-zero exit
// status is no error: the caller reads it from the output. When ctx ends
// first, run closes the session and returns, and the connection stays
// open for other commands.
func (c *conn) run(ctx context.Context, command string, stdin []byte) (*output, error) {
	if err := contextError(ctx); err != nil {
		return nil, err
	}
	s, err := c.client.NewSession()
	if err != nil {
		return nil, runError(ctx, fmt.Errorf("opening a session: %w", err))
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()

	var stdout, stderr limitedBuffer
	s.Stdin, s.Stdout, s.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	err = s.Run(command)
	out := &output{stdout: stdout.String(), stderr: stderr.String()}
	var exit *xssh.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		// A session closed because ctx ended may still report the exit
		// status of the command it cut off, which means nothing here.
		return nil, runError(ctx, err)
	case errors.As(err, &exit):
		out.status = exit.ExitStatus()
	case err != nil:
		return nil, runError(ctx, fmt.Errorf("running a command: %w", err))
	}
	return out, nil
}

// runError reports a session that broke off, as a timeout when the
// context ran out.
func runError(ctx context.Context, err error) error {
	if ctxErr := contextError(ctx); ctxErr != nil {
		return ctxErr
	}
	return sdk.Errorf(sdk.ReasonFailed, "%v", err)
}

// authMethods returns how to log in with cred, and the state the methods
// share to tell a refused password from other failures.
func authMethods(cred sdk.Credential) ([]xssh.AuthMethod, *authState, error) {
	state := &authState{}
	switch cred.Type {
	case sdk.Password:
		if cred.Value.IsEmpty() {
			return nil, nil, sdk.Errorf(sdk.ReasonInvalidParams, "the password is empty")
		}
		return []xssh.AuthMethod{
			xssh.PasswordCallback(state.password(cred.Value)),
			xssh.KeyboardInteractive(state.keyboard(cred.Value)),
		}, state, nil
	case sdk.SSHKey:
		signer, err := parseKey(cred.Value)
		if err != nil {
			return nil, nil, err
		}
		return []xssh.AuthMethod{xssh.PublicKeys(signer)}, state, nil
	}
	return nil, nil, sdk.Errorf(sdk.ReasonUnsupported,
		"credential type %q is not supported by the ssh driver", cred.Type)
}

// maxPromptRounds bounds the keyboard-interactive rounds answered.
const maxPromptRounds = 3

// authState is what the password methods of one login share.
type authState struct {
	mu            sync.Mutex
	passwordTried bool
	rounds        int
}

func (a *authState) password(pw sdk.Secret) func() (string, error) {
	return func() (string, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.passwordTried = true
		return string(pw.Reveal()), nil
	}
}

// triedPassword reports whether the password method sent the password.
func (a *authState) triedPassword() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.passwordTried
}

// keyboard answers the target's password questions with pw, unless the
// password method already failed with it.
func (a *authState) keyboard(pw sdk.Secret) xssh.KeyboardInteractiveChallenge {
	return func(_, _ string, questions []string, echos []bool) ([]string, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.passwordTried {
			return nil, errPasswordRefused
		}
		if len(questions) > 0 {
			a.rounds++
		}
		if a.rounds > maxPromptRounds {
			return nil, errPasswordRefused
		}
		answers := make([]string, len(questions))
		for i, q := range questions {
			switch {
			case echos[i]:
				return nil, errUnexpectedPrompt
			case strings.Contains(strings.ToLower(q), "new"):
				return nil, errNewPassword
			}
			answers[i] = string(pw.Reveal())
		}
		return answers, nil
	}
}

// parseKey parses an ssh-key credential: an unencrypted OpenSSH private
// key. Its errors never quote the key.
func parseKey(v sdk.Secret) (xssh.Signer, error) {
	signer, err := xssh.ParsePrivateKey(v.Reveal())
	if err != nil {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"the ssh-key credential is not an unencrypted private key in PEM form")
	}
	return signer, nil
}

// authorizedLine returns k in authorized_keys form without a newline.
func authorizedLine(k xssh.PublicKey) string {
	return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(k)))
}

// limitedBuffer keeps the first maxOutput bytes written to it and drops
// the rest, so that a chatty command cannot exhaust memory.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
