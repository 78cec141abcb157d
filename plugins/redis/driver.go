// Package redis is the PassMan driver for the passwords of ACL users on
// Redis 6 and later. It checks a password by logging in with it, and
// changes one with ACL SETUSER:
//
//   - the account itself, logged in with its current password, adds the
//     new password and removes the current one in one command, so that
//     it never has no working password. Redis lets a user do this only
//     when it may run ACL SETUSER, which lets it change every user;
//   - a reconcile account allowed ACL GETUSER and ACL SETUSER replaces
//     all of an account's passwords with the new one in one command,
//     without knowing the current one.
//
// ACL SETUSER changes the users in the server's memory. A server that
// loads its users from a file at start gets the old password back when it
// restarts, unless the change is saved to that file: the persist
// parameter says whether and how.
//
// Passwords travel as arguments of RESP commands, never inside a command
// line that the server parses. What the server keeps of them was checked
// on Redis 7.0: the slow log shows the arguments of AUTH, HELLO's AUTH and
// ACL SETUSER as "(redacted)", user names included; MONITOR leaves ACL
// commands out and shows AUTH's arguments as "(redacted)"; ACL LOG records
// the user of a failed login, never the password. Older servers may keep
// more: the driver's tests check this against the server they run.
package redis

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9/logging"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "redis"

// Driver is the redis driver. It keeps no state between requests, so one
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

// New returns a redis driver. It silences go-redis's own logging for the
// whole process: that goes to stderr, outside the driver's logger, and
// may quote what a server answered, which can hold a password.
func New(opts ...Option) *Driver {
	logging.Disable()
	d := &Driver{}
	for _, o := range opts {
		o(d)
	}
	if d.log == nil {
		d.log = sdk.Logger("")
	}
	return d
}

var (
	_ sdk.Driver   = (*Driver)(nil)
	_ sdk.Rotator  = (*Driver)(nil)
	_ sdk.Preparer = (*Driver)(nil)
)

// Describe says what the driver manages and which parameters it reads.
func (d *Driver) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:            Name,
		CredentialTypes: []string{sdk.Password},
		Params:          params,
		Reconcile:       true,
	}, nil
}

// Check logs in to the target as the account with the password.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkCredential(req); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "address", cfg.addr)
	log.Debug("checking credential")

	s, err := open(ctx, cfg, req.Account, req.Credential.Value)
	if err != nil {
		log.Debug("check failed", "error", err)
		return nil, err
	}
	s.close()
	return &sdk.CheckResult{}, nil
}

// checkCredential validates what a check request asks for.
func checkCredential(req *sdk.CheckRequest) error {
	if req.Credential.Type != sdk.Password {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"credential type %q is not supported by the redis driver", req.Credential.Type)
	}
	if err := checkAccount(req.Account, "account"); err != nil {
		return err
	}
	if req.Credential.Value.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the password is empty")
	}
	return nil
}

// Change sets a new password on the target, then logs in with it to
// prove it works.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	res, err := d.Rotate(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.CheckErr != nil {
		return nil, res.CheckErr
	}
	return &sdk.ChangeResult{}, nil
}

// Rotate sets a new password on the target and logs in with it. That
// login is the one the agent asks for after a change, so a rotation logs
// in twice, not three times.
func (d *Driver) Rotate(ctx context.Context, req *sdk.ChangeRequest) (*sdk.RotateResult, error) {
	p, err := d.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Rotate(ctx)
}

// Prepare logs in as the account that will make the change, changing
// nothing: the account itself with its current password, or the
// reconcile account.
func (d *Driver) Prepare(ctx context.Context, req *sdk.ChangeRequest) (sdk.Prepared, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkChange(req); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account,
		"address", cfg.addr, "reconcile", req.Reconcile != nil)
	s, err := login(ctx, cfg, req)
	if err != nil {
		log.Debug("change failed", "error", err)
		return nil, err
	}
	return &prepared{cfg: cfg, req: req, s: s, log: log}, nil
}

// prepared is a change whose session is logged in.
type prepared struct {
	cfg *config
	req *sdk.ChangeRequest
	s   *session
	log hclog.Logger
}

// Rotate makes the change on the prepared session, then logs in with the
// new password.
func (p *prepared) Rotate(ctx context.Context) (*sdk.RotateResult, error) {
	p.log.Debug("changing credential")
	var err error
	if p.req.Reconcile != nil {
		err = reconcile(ctx, p.cfg, p.s, p.req)
	} else {
		err = changeOwn(ctx, p.cfg, p.s, p.req)
	}
	p.s.close()
	if err != nil {
		p.log.Debug("change failed", "error", err)
		return nil, err
	}
	p.log.Info("credential changed")
	if e := verifyNew(ctx, p.cfg, p.req); e != nil {
		p.log.Debug("login with the new password failed", "error", e)
		return &sdk.RotateResult{CheckErr: e}, nil
	}
	return &sdk.RotateResult{}, nil
}

// Close drops the change and logs out.
func (p *prepared) Close() { p.s.close() }
