package sdk

import "context"

// RotateResult is what Rotate learned: whether the change went through,
// and whether logging in with the new credential then worked.
type RotateResult struct {
	// HostKey is the host key the target presented, as the change or the
	// login after it saw it.
	HostKey string
	// CheckErr is why logging in with the new credential failed after the
	// change succeeded, or nil when it worked. The target may then hold
	// either value.
	CheckErr *Error
}

// Rotator is a Driver that can change a credential and log in with the
// new one in one call. The agent's side of a driver plugin is one: a
// rotation then crosses the plugin's connection once, not twice.
type Rotator interface {
	Rotate(ctx context.Context, req *ChangeRequest) (*RotateResult, error)
}

// Rotate changes a credential with d and then logs in with the new value.
// It returns the change's error when the change failed, and otherwise a
// result whose CheckErr says whether the login after it failed. A driver
// that is a Rotator does both in its own Rotate.
func Rotate(ctx context.Context, d Driver, req *ChangeRequest) (*RotateResult, error) {
	if r, ok := d.(Rotator); ok {
		return r.Rotate(ctx, req)
	}
	return changeThenCheck(ctx, d, req)
}

// changeThenCheck is Rotate with Change and Check.
func changeThenCheck(ctx context.Context, d Driver, req *ChangeRequest) (*RotateResult, error) {
	ch, err := d.Change(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &RotateResult{}
	if ch != nil {
		out.HostKey = ch.HostKey
	}
	chk, err := d.Check(ctx, &CheckRequest{
		JobID:      req.JobID,
		Target:     req.Target,
		Account:    req.Account,
		Credential: Credential{Type: req.Type, Value: req.New},
	})
	switch {
	case err != nil:
		out.CheckErr = asError(ctx, err)
	case chk != nil && chk.HostKey != "":
		out.HostKey = chk.HostKey
	}
	return out, nil
}

// asError returns err as an *Error, as it crosses the plugin's connection.
func asError(ctx context.Context, err error) *Error {
	return fromFailure(toFailure(ctx, err))
}
