package redis

import (
	"context"

	"github.com/passman-dev/passman/plugins/sdk"
)

// login logs in as the account that makes the change of req: the
// reconcile account when req has one, else the account itself with its
// current password.
func login(ctx context.Context, cfg *config, req *sdk.ChangeRequest) (*session, error) {
	if rec := req.Reconcile; rec != nil {
		s, err := open(ctx, cfg, rec.Account, rec.Credential.Value)
		if err != nil {
			return nil, sdk.Annotate(err, "logging in as the reconcile account "+rec.Account)
		}
		return s, nil
	}
	s, err := open(ctx, cfg, req.Account, req.Current)
	if err != nil {
		return nil, sdk.Annotate(err, "logging in with the current password")
	}
	return s, nil
}

// changeOwn, on s logged in as the account with its current password,
// adds the new password and removes the current one in one ACL SETUSER.
// Redis applies all of a SETUSER's rules or none, so the account has the
// one password or the other at every moment, and keeps any other
// password it had.
func changeOwn(ctx context.Context, cfg *config, s *session, req *sdk.ChangeRequest) error {
	add, remove := ">"+string(req.New.Reveal()), "<"+string(req.Current.Reveal())
	if err := s.setUser(ctx, req.Account, add, remove); err != nil {
		return sdk.Annotate(setUserError(ctx, err, true, req.New, req.Current), "changing the password")
	}
	return save(ctx, cfg, s)
}

// reconcile, on s logged in as the reconcile account, replaces every
// password of the account, whatever they were, with the new one in one
// ACL SETUSER. It first makes sure the account exists, since ACL SETUSER
// would create it, and is enabled, since a disabled user could not log in
// with the new password: the new password would then be on the target
// with nothing to show it.
func reconcile(ctx context.Context, cfg *config, s *session, req *sdk.ChangeRequest) error {
	secrets := []sdk.Secret{req.New, req.Reconcile.Credential.Value}
	u, err := s.getUser(ctx, req.Account)
	switch {
	case err != nil:
		return sdk.Annotate(setUserError(ctx, err, false, secrets...), "reading the account")
	case u == nil:
		return sdk.Errorf(sdk.ReasonFailed, "the target has no ACL user %q", req.Account)
	case !u.enabled():
		return sdk.Errorf(sdk.ReasonLockedOut,
			"the ACL user %q is disabled (off); enable it before resetting its password",
			req.Account)
	}

	if err := s.setUser(ctx, req.Account, "resetpass", ">"+string(req.New.Reveal())); err != nil {
		return sdk.Annotate(setUserError(ctx, err, false, secrets...), "setting the password")
	}
	return save(ctx, cfg, s)
}

// save saves the change made on s as the persist parameter says.
func save(ctx context.Context, cfg *config, s *session) error {
	if err := s.persist(ctx, cfg.persist); err != nil {
		return persistError(ctx, err, cfg.persist)
	}
	return nil
}

// verifyNew logs in as the account with the new password and returns
// why it could not, or nil.
func verifyNew(ctx context.Context, cfg *config, req *sdk.ChangeRequest) *sdk.Error {
	s, err := open(ctx, cfg, req.Account, req.New)
	if err != nil {
		return sdk.Annotate(err, "logging in with the new password")
	}
	s.close()
	return nil
}
