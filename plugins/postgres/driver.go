// Package postgres is the PassMan driver for the passwords of PostgreSQL
// roles. It checks a password by logging in with it and running SELECT 1,
// and changes it with ALTER ROLE, logged in either as the role itself
// with its current password or as a reconcile account: a role with
// CREATEROLE (and, from PostgreSQL 16, the right to administer the role)
// or a superuser.
//
// The password never reaches the server, not even in a statement the
// server may log: logins use SCRAM-SHA-256, which proves the password
// without sending it, and the driver refuses a server that asks for any
// other method; a new password is sent as the SCRAM-SHA-256 verifier the
// driver computes from it, which the server stores as it is.
//
// Failures carry the reason the credential's status shows: a wrong
// password, an unknown role or a login pg_hba.conf refuses is
// auth_failed; a role with NOLOGIN is locked_out; a server that wants
// another authentication method than SCRAM is unsupported; and when the
// login worked but the server refused the ALTER ROLE, for want of
// privilege or by its own password rules, the change is rejected.
//
// The verifier does appear in the server's statement log when that logs
// DDL. It cannot log in, but allows a guessing attack on the password
// offline, so generated passwords should be long; and since a verifier
// crosses the network in the statement, production targets should use
// sslmode verify-full.
package postgres

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "postgres"

// Driver is the postgres driver. It keeps no state between requests, so
// one Driver serves any number of requests at once.
type Driver struct {
	log hclog.Logger
}

// Option configures a Driver.
type Option func(*Driver)

// WithLogger makes the driver log through l instead of the SDK's logger.
func WithLogger(l hclog.Logger) Option {
	return func(d *Driver) { d.log = l }
}

// New returns a postgres driver.
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

// Check logs in as the account with the password and runs SELECT 1.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkLogin(req.Account, req.Credential, "the"); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account, "address", cfg.addr())
	log.Debug("checking credential")

	l := login{role: req.Account, password: req.Credential.Value}
	if err := check(ctx, cfg, l); err != nil {
		log.Debug("check failed", "error", err)
		return nil, err
	}
	return &sdk.CheckResult{}, nil
}

// Change sets the account's new password, logged in as the account with
// its current password or, when the request says so, as the reconcile
// account.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	p, err := d.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := p.change(ctx); err != nil {
		return nil, err
	}
	return &sdk.ChangeResult{}, nil
}

// Rotate sets the account's new password, as Change does, and then logs in
// with it.
func (d *Driver) Rotate(ctx context.Context, req *sdk.ChangeRequest) (*sdk.RotateResult, error) {
	p, err := d.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Rotate(ctx)
}

// Prepare logs in as the role that will set the new password, the account
// itself or the reconcile account, and computes the new password's SCRAM
// verifier, changing nothing.
func (d *Driver) Prepare(ctx context.Context, req *sdk.ChangeRequest) (sdk.Prepared, error) {
	return d.prepare(ctx, req)
}

func (d *Driver) prepare(ctx context.Context, req *sdk.ChangeRequest) (*prepared, error) {
	cfg, err := parseConfig(req.Target)
	if err != nil {
		return nil, err
	}
	if err := checkChange(req); err != nil {
		return nil, err
	}
	log := d.log.With("job_id", req.JobID, "account", req.Account,
		"address", cfg.addr(), "reconcile", req.Reconcile != nil)
	verifier, err := verifierOf(req.New)
	if err != nil {
		return nil, err
	}
	as := login{role: req.Account, password: req.Current}
	if req.Reconcile != nil {
		as = login{role: req.Reconcile.Account, password: req.Reconcile.Credential.Value}
	}
	conn, err := connect(ctx, cfg, as)
	if err != nil {
		log.Debug("change failed", "error", err)
		return nil, err
	}
	return &prepared{cfg: cfg, req: req, conn: conn, verifier: verifier, log: log}, nil
}

// prepared is a change whose connection is logged in as the role that
// makes it.
type prepared struct {
	cfg      *config
	req      *sdk.ChangeRequest
	conn     *pgx.Conn
	verifier string
	log      hclog.Logger
}

// change sets the new password and closes the connection.
func (p *prepared) change(ctx context.Context) error {
	p.log.Debug("changing credential")
	err := alterPassword(ctx, p.conn, p.req.Account, p.verifier)
	closeConn(p.conn)
	if err != nil {
		p.log.Debug("change failed", "error", err)
		return err
	}
	p.log.Info("credential changed")
	return nil
}

// Rotate sets the new password, then logs in with it.
func (p *prepared) Rotate(ctx context.Context) (*sdk.RotateResult, error) {
	if err := p.change(ctx); err != nil {
		return nil, err
	}
	err := check(ctx, p.cfg, login{role: p.req.Account, password: p.req.New})
	if err != nil {
		p.log.Debug("login with the new password failed", "error", err)
		return &sdk.RotateResult{CheckErr: sdk.Annotate(err, "logging in with the new password")}, nil
	}
	return &sdk.RotateResult{}, nil
}

// Close drops the change and logs out.
func (p *prepared) Close() { closeConn(p.conn) }

// checkChange validates what a change request asks for before anything
// is sent to the server.
func checkChange(req *sdk.ChangeRequest) error {
	if req.Type != sdk.Password {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"credential type %q is not supported by the postgres driver", req.Type)
	}
	if err := checkName("role", req.Account); err != nil {
		return err
	}
	switch {
	case req.New.IsEmpty():
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new password is empty")
	case req.New.Equal(req.Current):
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new password is the current one")
	}
	if err := checkSCRAMPassword(req.New.Reveal()); err != nil {
		return err
	}
	if req.Reconcile != nil {
		return checkLogin(req.Reconcile.Account, req.Reconcile.Credential,
			"the reconcile account's")
	}
	if req.Current.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the current password is needed to change it without a reconcile account")
	}
	return nil
}

// checkLogin validates a role and the credential it is to log in with;
// whose names the credential in messages.
func checkLogin(role string, c sdk.Credential, whose string) error {
	if err := checkName("role", role); err != nil {
		return err
	}
	switch {
	case c.Type != sdk.Password:
		return sdk.Errorf(sdk.ReasonUnsupported,
			"%s credential is of type %q; PostgreSQL roles log in with a password",
			whose, c.Type)
	case c.Value.IsEmpty():
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s password is empty", whose)
	}
	return nil
}
