// Package ldap is the PassMan driver for the passwords of entries in an
// LDAP directory, such as OpenLDAP. It checks a password with a simple
// bind as the account's entry, and changes it with the Password Modify
// extended operation of RFC 3062:
//
//   - by the account itself, bound with its current password, sending
//     the current and the new one;
//   - by a reconcile account allowed to write other entries' passwords,
//     bound with its own password, naming the account's entry and
//     sending only the new one.
//
// Either way the driver then binds with the new password to prove the
// directory took it. Account names become DNs through a template
// parameter, escaped as RFC 4514 requires, so a name cannot reach
// another entry. Passwords travel only as bind and operation fields;
// the connection is protected with StartTLS unless the target says
// otherwise. Checks work against any directory, Active Directory
// included; changes need RFC 3062, which Active Directory lacks.
package ldap

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "ldap"

// Driver is the ldap driver. It keeps no state between requests, so one
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

// New returns an ldap driver.
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
		CredentialTypes: []string{sdk.Password},
		Params:          params,
		Reconcile:       true,
	}, nil
}

// Check binds to the directory as the account's entry with the password.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	// TODO: a check of the reconcile account itself goes through
	// user_dn_template too, because sdk.Target does not say which account
	// is the reconcile one; with a separate reconcile_dn_template such a
	// check fails as auth_failed.
	dn, err := cfg.user.dn(req.Account)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(req.Credential.Type, req.Credential.Value, "the"); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "dn", dn,
		"address", cfg.addr, "tls", cfg.tlsMode)
	log.Debug("checking credential")

	if err := check(ctx, cfg, dn, req.Credential.Value); err != nil {
		err = redact(err, req.Credential.Value)
		log.Debug("check failed", "error", err)
		return nil, err
	}
	return &sdk.CheckResult{}, nil
}

// check opens a session and binds as dn with password.
func check(ctx context.Context, cfg *config, dn string, password sdk.Secret) error {
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	return s.bind(ctx, s.connectCtx, dn, password, opBind)
}

// Change sets a new password on the account's entry, then binds with it
// to prove it works.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	p, err := plan(cfg, req)
	if err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "dn", p.dn,
		"address", cfg.addr, "tls", cfg.tlsMode, "reconcile", req.Reconcile != nil)
	log.Debug("changing credential")

	if err := p.run(ctx, cfg); err != nil {
		err = redact(err, req.Current, req.New, p.bindPassword)
		log.Debug("change failed", "error", err)
		return nil, err
	}
	log.Info("credential changed")
	return &sdk.ChangeResult{}, nil
}

// checkPassword refuses a credential that is not a password, and an
// empty password, which a directory would take for an anonymous bind.
func checkPassword(typ string, v sdk.Secret, which string) error {
	if typ != sdk.Password {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"credential type %q is not supported by the ldap driver", typ)
	}
	if v.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s password is empty", which)
	}
	return nil
}
