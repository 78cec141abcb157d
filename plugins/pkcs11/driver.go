// Package pkcs11 is the PassMan driver for the PINs of PKCS#11 tokens:
// smart cards, USB keys, slots of a hardware security module, or a
// software token such as SoftHSM, all reached through the vendor's
// PKCS#11 module (a shared library) on the agent's own host.
//
// A token has two accounts. The account named "user" is the token's
// normal user, and "so" is its Security Officer. A check opens a session
// and logs in with the PIN. A change logs in with the current PIN and
// sets the new one with C_SetPIN. With the Security Officer as the
// target's reconcile account, a change of the user PIN logs in as the
// Security Officer and sets it with C_InitPIN, so that a user PIN nobody
// knows any more can be reset.
//
// Each module is loaded and initialised once per process and kept; many
// targets may share it. PKCS#11 keeps one login state per token for the
// whole process, so the driver runs one request at a time per token, and
// one at a time per module when the module cannot be called from several
// threads. PKCS#11 calls cannot be interrupted: when a request's deadline
// passes, the driver answers timeout at once and lets the call end in the
// background, and it starts no login or change after the deadline.
//
// How failures map to reasons: a library path that is not an absolute
// path to a regular file, or a file that does not load as a PKCS#11
// module, is invalid_params, since only the target's parameters can fix
// it. A module that loads but does not initialise, a token that is not
// there, a slot that does not exist or a device that fails is
// unreachable, since the token may come back as it is.
package pkcs11

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "pkcs11"

// The accounts of a token.
const (
	// AccountUser is the token's normal user (CKU_USER).
	AccountUser = "user"
	// AccountSO is the token's Security Officer (CKU_SO), the only
	// account that can reset the user PIN.
	AccountSO = "so"
)

// Driver is the pkcs11 driver. One Driver serves any number of requests
// at once; the modules it loads are shared by every Driver of the
// process.
type Driver struct {
	log hclog.Logger
}

// Option configures a Driver.
type Option func(*Driver)

// WithLogger makes the driver log through l instead of the SDK's logger.
func WithLogger(l hclog.Logger) Option {
	return func(d *Driver) { d.log = l }
}

// New returns a pkcs11 driver.
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
		CredentialTypes: []string{sdk.PIN},
		Params:          params,
		Reconcile:       true,
	}, nil
}

// Check logs in to the token as the account with the PIN, and out again.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	p, err := parseParams(req.Target)
	if err != nil {
		return nil, err
	}
	who, err := parseAccount(req.Account)
	if err != nil {
		return nil, err
	}
	if req.Credential.Type != sdk.PIN {
		return nil, sdk.Errorf(sdk.ReasonUnsupported,
			"the pkcs11 driver manages PINs, not %q", req.Credential.Type)
	}
	if req.Credential.Value.IsEmpty() {
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "the PIN to check is empty")
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "token", p.token())
	log.Debug("checking pin")

	if err := check(ctx, p, who, req.Credential.Value); err != nil {
		log.Debug("check failed", "error", err)
		return nil, err
	}
	log.Debug("pin checked")
	return &sdk.CheckResult{}, nil
}

// Change sets a new PIN on the token: the account's own, after logging
// in with the current one, or, with the Security Officer as reconcile
// account, the user PIN after logging in as the Security Officer.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	p, err := parseParams(req.Target)
	if err != nil {
		return nil, err
	}
	who, err := checkChange(req)
	if err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "token", p.token(),
		"reconcile", req.Reconcile != nil)
	log.Debug("changing pin")

	if err := change(ctx, p, who, req); err != nil {
		log.Debug("change failed", "error", err)
		return nil, err
	}
	log.Info("pin changed")
	return &sdk.ChangeResult{}, nil
}

// account is one of the two accounts of a token.
type account int

const (
	user account = iota
	securityOfficer
)

// parseAccount returns the token account a PassMan account name stands
// for.
func parseAccount(name string) (account, error) {
	switch name {
	case AccountUser:
		return user, nil
	case AccountSO:
		return securityOfficer, nil
	}
	return 0, sdk.Errorf(sdk.ReasonInvalidParams,
		"a PKCS#11 token has two accounts, %q and %q, not %q", AccountUser, AccountSO, name)
}

// checkChange validates a change request before anything reaches the
// token, and returns the account to change.
func checkChange(req *sdk.ChangeRequest) (account, error) {
	who, err := parseAccount(req.Account)
	switch {
	case err != nil:
		return 0, err
	case req.Type != sdk.PIN:
		return 0, sdk.Errorf(sdk.ReasonUnsupported,
			"the pkcs11 driver manages PINs, not %q", req.Type)
	case req.New.IsEmpty():
		return 0, sdk.Errorf(sdk.ReasonRejected, "the new PIN is empty")
	case req.Reconcile != nil:
		return who, checkReconcile(who, req.Reconcile)
	case req.Current.IsEmpty():
		return 0, sdk.Errorf(sdk.ReasonInvalidParams,
			"the current PIN is needed to change it without the Security Officer")
	}
	return who, nil
}

// checkReconcile validates a reconcile login: only the Security Officer
// can reset a PIN, and only the user's.
func checkReconcile(who account, l *sdk.Login) error {
	switch {
	case who == securityOfficer:
		return sdk.Errorf(sdk.ReasonUnsupported,
			"the SO PIN can only be changed with the current one: "+
				"initialising the token again would erase it")
	case l.Account != AccountSO:
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the reconcile account of a PKCS#11 token must be %q, not %q", AccountSO, l.Account)
	case l.Credential.Type != sdk.PIN:
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the Security Officer's credential must be a PIN, not %q", l.Credential.Type)
	case l.Credential.Value.IsEmpty():
		return sdk.Errorf(sdk.ReasonInvalidParams, "the SO PIN is empty")
	}
	return nil
}
