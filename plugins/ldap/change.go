package ldap

import (
	"context"

	"github.com/passman-dev/passman/plugins/sdk"
)

// changePlan is a validated change: whom to bind as and what to send.
type changePlan struct {
	// dn is the entry whose password changes.
	dn string
	// bindDN and bindPassword are the login: the account's own entry
	// and current password, or the reconcile account's.
	bindDN       string
	bindPassword sdk.Secret
	bindOp       operation
	// identity names the entry in the operation: "" for the bound
	// entry itself, dn when the reconcile account acts for it.
	identity string
	// old is the current password sent in the operation, or empty.
	old sdk.Secret
	new sdk.Secret
}

// plan validates a change request before anything is sent to the
// directory.
func plan(cfg *config, req *sdk.ChangeRequest) (*changePlan, error) {
	dn, err := cfg.user.dn(req.Account)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(req.Type, req.New, "the new"); err != nil {
		return nil, err
	}
	if req.New.Equal(req.Current) {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "the new password is the current one")
	}
	p := &changePlan{dn: dn, new: req.New}
	if req.Reconcile == nil {
		if req.Current.IsEmpty() {
			return nil, sdk.Errorf(sdk.ReasonInvalidParams,
				"the current password is needed to change it without a reconcile account")
		}
		p.bindDN, p.bindPassword, p.bindOp, p.old = dn, req.Current, opBind, req.Current
		return p, nil
	}
	r := req.Reconcile
	if p.bindDN, err = cfg.reconcile.dn(r.Account); err != nil {
		return nil, err
	}
	err = checkPassword(r.Credential.Type, r.Credential.Value, "the reconcile account's")
	if err != nil {
		return nil, err
	}
	p.bindPassword, p.bindOp, p.identity = r.Credential.Value, opReconcileBind, dn
	return p, nil
}

// run binds, sends the Password Modify operation and binds again as
// the entry with its new password.
func (p *changePlan) run(ctx context.Context, cfg *config) error {
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.bind(ctx, s.connectCtx, p.bindDN, p.bindPassword, p.bindOp); err != nil {
		return err
	}
	if err := s.passwordModify(ctx, p.identity, p.old, p.new); err != nil {
		return err
	}
	return s.bind(ctx, ctx, p.dn, p.new, opVerify)
}
