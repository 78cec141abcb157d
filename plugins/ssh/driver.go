// Package ssh is the PassMan driver for Unix hosts reached over SSH. It
// checks passwords and SSH keys by logging in with them, and changes them
// on the host:
//
//   - a password, by the account itself running passwd on a terminal and
//     answering its prompts, or by a reconcile account running chpasswd
//     through sudo or as root;
//   - an SSH key, by rewriting the account's ~/.ssh/authorized_keys as
//     the account, itself or through su or sudo -u.
//
// A key change swaps the whole file in one rename, the key PassMan
// manages replaced by the new one, and then logs in with the new key on a
// connection of its own. When that login fails, or the deadline comes
// before it succeeds, the previous file goes back in its place, with part
// of the time left kept for that. The account thus never holds both keys,
// and ends with the new key proven or the old file back; only when even
// that time runs out does the change end with timeout, the target holding
// one of the two files whole, for PassMan to settle which key works.
//
// The key PassMan manages is the line of the current key, when the
// request names one, and the key line after a "# managed by PassMan"
// comment, which the driver writes before each key it sets. The driver
// leaves every other line as it was: an authorized_keys file often holds
// keys of other people or programs, and PassMan cannot tell an intruder's
// key from one an operator put there on purpose. A reconcile, which need
// not know the current key, thus replaces the key after the comment;
// before the driver ever wrote one, it adds the new key, and any other
// key stays authorized, for the operator to review. A change as the
// account itself refuses to run when the current key logs in from
// somewhere other than the file, where the driver could not remove it.
//
// The target's host key is pinned: a target whose key differs from the
// pinned one is refused, and when none is pinned yet the key seen is
// returned for PassMan to pin. No credential ever appears on a remote
// command line; they travel on the standard input or the terminal of
// the remote command.
package ssh

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "ssh"

// Driver is the ssh driver. It keeps no state between requests, so one
// Driver serves any number of requests at once.
type Driver struct {
	log hclog.Logger
}

// Option configures a Driver.
type Option func(*Driver)

// WithLogger makes the driver log through l instead of the SDK's logger.
func WithLogger(l hclog.Logger) Option {
	return func(d *Driver) { d.log = l }
}

// New returns an ssh driver.
func New(opts ...Option) *Driver {
	d := &Driver{}
	for _, o := range opts {
		o(d)
	}
	if d.log == nil {
		d.log = sdk.Logger("")
	}
	return d
}

var _ sdk.Driver = (*Driver)(nil)

// Describe says what the driver manages and which parameters it reads.
func (d *Driver) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:            Name,
		CredentialTypes: []string{sdk.Password, sdk.SSHKey},
		Params:          params,
		Reconcile:       true,
	}, nil
}

// Check logs in to the target as the account with the credential and runs
// true. It returns the host key the target presented.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkAccount(req.Account); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "address", cfg.addr)
	log.Debug("checking credential", "type", req.Credential.Type)

	hostKey, err := check(ctx, cfg, login{account: req.Account, cred: req.Credential})
	if err != nil {
		log.Debug("check failed", "error", err)
		return nil, err
	}
	return &sdk.CheckResult{HostKey: hostKey}, nil
}

// check logs in and runs true, returning the host key seen.
func check(ctx context.Context, cfg *config, l login) (string, error) {
	c, err := dial(ctx, cfg, l)
	if err != nil {
		return "", err
	}
	defer c.Close()
	out, err := c.run(ctx, "true", nil)
	if err != nil {
		return "", err
	}
	if out.status != 0 {
		return "", sdk.Errorf(sdk.ReasonFailed,
			"logged in, but true exited with status %d: %s", out.status, lastLines(out.stderr, 2))
	}
	return c.hostKey, nil
}

// Change sets a new password or SSH key on the target, then logs in with
// it to prove it works.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkChange(req); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account,
		"address", cfg.addr, "type", req.Type, "reconcile", req.Reconcile != nil)
	log.Debug("changing credential")

	hostKey, err := d.change(ctx, log, cfg, req)
	if err != nil {
		log.Debug("change failed", "error", err)
		return nil, err
	}
	log.Info("credential changed")
	return &sdk.ChangeResult{HostKey: hostKey}, nil
}

func (d *Driver) change(
	ctx context.Context, log hclog.Logger, cfg *config, req *sdk.ChangeRequest,
) (string, error) {
	switch {
	case req.Type == sdk.Password && req.Reconcile == nil:
		return changePassword(ctx, cfg, req)
	case req.Type == sdk.Password:
		return reconcilePassword(ctx, cfg, req)
	case req.Reconcile == nil:
		return changeKey(ctx, log, cfg, req)
	}
	return reconcileKey(ctx, log, cfg, req)
}

// checkChange validates what a change request asks for before anything
// is sent to the target.
func checkChange(req *sdk.ChangeRequest) error {
	if req.Type != sdk.Password && req.Type != sdk.SSHKey {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"credential type %q is not supported by the ssh driver", req.Type)
	}
	if err := checkAccount(req.Account); err != nil {
		return err
	}
	if req.New.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new credential is empty")
	}
	if req.New.Equal(req.Current) {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new credential is the current one")
	}
	if req.Type == sdk.Password {
		if err := checkPassword(req.New, "new"); err != nil {
			return err
		}
	}
	if req.Reconcile != nil {
		return checkReconcile(req.Reconcile)
	}
	if req.Current.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the current credential is needed to change it without a reconcile account")
	}
	if req.Type == sdk.Password {
		return checkPassword(req.Current, "current")
	}
	return nil
}

// checkReconcile validates a reconcile account's login.
func checkReconcile(l *sdk.Login) error {
	if err := checkAccount(l.Account); err != nil {
		return err
	}
	if l.Credential.Type == sdk.Password {
		return checkPassword(l.Credential.Value, "reconcile account's")
	}
	return nil
}
