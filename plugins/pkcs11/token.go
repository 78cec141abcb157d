//go:build cgo

package pkcs11

import (
	"context"
	"fmt"
	"strings"

	cryptoki "github.com/miekg/pkcs11"

	"github.com/passman-dev/passman/plugins/sdk"
)

// role is how an account of a token logs in.
type role struct {
	userType uint
	// pin names the account's PIN in messages.
	pin string
	// locked and finalTry are the token flags that say the PIN is
	// locked, or will be after one more wrong try.
	locked, finalTry uint
}

// roles holds the role of each account.
var roles = map[account]role{
	user: {userType: cryptoki.CKU_USER, pin: "user PIN",
		locked: cryptoki.CKF_USER_PIN_LOCKED, finalTry: cryptoki.CKF_USER_PIN_FINAL_TRY},
	securityOfficer: {userType: cryptoki.CKU_SO, pin: "SO PIN",
		locked: cryptoki.CKF_SO_PIN_LOCKED, finalTry: cryptoki.CKF_SO_PIN_FINAL_TRY},
}

// token is the token a target names, as found in its module.
type token struct {
	m    *module
	slot uint
	info cryptoki.TokenInfo
}

// check logs in to the target's token as who with pin, and out again.
func check(ctx context.Context, t *target, who account, pin sdk.Secret) error {
	return run(ctx, t, func(tok *token) error {
		// The Security Officer cannot log in while a read-only session
		// is open, its own included.
		return tok.session(ctx, roles[who], pin, who == securityOfficer, nil)
	})
}

// change sets the new PIN of a change request that checkChange passed.
func change(ctx context.Context, t *target, who account, req *sdk.ChangeRequest) error {
	if req.Reconcile != nil {
		return run(ctx, t, func(tok *token) error {
			return tok.reset(ctx, req.Reconcile.Credential.Value, req.New)
		})
	}
	return run(ctx, t, func(tok *token) error {
		return tok.setPIN(ctx, roles[who], req.Current, req.New)
	})
}

// run finds the target's token, waits for it to be free of other
// requests and runs op on it. PKCS#11 calls block and cannot be
// interrupted, so all of this runs in a goroutine, and run returns as
// soon as ctx ends, leaving the goroutine to finish the call it is in.
func run(ctx context.Context, t *target, op func(*token) error) error {
	if ctx.Err() != nil {
		return contextError(ctx, "starting")
	}
	done := make(chan error, 1)
	go func() { done <- runOn(ctx, t, op) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return contextError(ctx, "waiting for the PKCS#11 module to answer")
	}
}

func runOn(ctx context.Context, t *target, op func(*token) error) error {
	m, err := loadModule(ctx, t)
	if err != nil {
		return err
	}
	tok, err := m.find(t)
	if err != nil {
		return err
	}
	release, err := m.lock(ctx, tok.slot)
	if err != nil {
		return err
	}
	defer release()
	return op(tok)
}

// find returns the token a target names, by its slot or its label.
func (m *module) find(t *target) (*token, error) {
	if t.label == "" {
		return m.tokenIn(t.slot)
	}
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, callError(err, "listing the slots of "+m.path)
	}
	var found []*token
	for _, slot := range slots {
		info, err := m.ctx.GetTokenInfo(slot)
		if err == nil && trimLabel(info.Label) == t.label {
			found = append(found, &token{m: m, slot: slot, info: info})
		}
	}
	switch len(found) {
	case 0:
		return nil, sdk.Errorf(sdk.ReasonUnreachable, "no token labelled %q in %s", t.label, m.path)
	case 1:
		return found[0].initialised()
	}
	return nil, sdk.Errorf(sdk.ReasonInvalidParams,
		"%d tokens are labelled %q in %s: name the token by its %s instead",
		len(found), t.label, m.path, ParamSlot)
}

// tokenIn returns the token in a slot.
func (m *module) tokenIn(slot uint) (*token, error) {
	info, err := m.ctx.GetTokenInfo(slot)
	if err != nil {
		return nil, callError(err, fmt.Sprintf("reading the token in slot %d of %s", slot, m.path))
	}
	return (&token{m: m, slot: slot, info: info}).initialised()
}

// initialised returns tok, or an error when it is not initialised.
func (tok *token) initialised() (*token, error) {
	if tok.info.Flags&cryptoki.CKF_TOKEN_INITIALIZED == 0 {
		return nil, sdk.Errorf(sdk.ReasonFailed,
			"the token in slot %d of %s is not initialised", tok.slot, tok.m.path)
	}
	return tok, nil
}

// trimLabel returns a token's label without the padding tokens add.
func trimLabel(label string) string { return strings.TrimRight(label, " \x00") }

// setPIN logs in as r with the current PIN and sets the new one.
func (tok *token) setPIN(ctx context.Context, r role, current, next sdk.Secret) error {
	if err := tok.fits(next); err != nil {
		return err
	}
	return tok.session(ctx, r, current, true, func(sh cryptoki.SessionHandle) error {
		err := tok.m.ctx.SetPIN(sh, string(current.Reveal()), string(next.Reveal()))
		if err != nil {
			return setError(err, "setting the new "+r.pin)
		}
		return nil
	})
}

// reset logs in as the Security Officer and sets the user PIN.
func (tok *token) reset(ctx context.Context, soPIN, next sdk.Secret) error {
	if err := tok.fits(next); err != nil {
		return err
	}
	return tok.session(ctx, roles[securityOfficer], soPIN, true,
		func(sh cryptoki.SessionHandle) error {
			if err := tok.m.ctx.InitPIN(sh, string(next.Reveal())); err != nil {
				return setError(err, "setting the user PIN as the Security Officer")
			}
			return nil
		})
}

// fits refuses, before any login, a new PIN whose length is outside the
// range the token announces.
func (tok *token) fits(pin sdk.Secret) error {
	lo, hi, n := tok.info.MinPinLen, tok.info.MaxPinLen, uint(pin.Len())
	if hi >= lo && hi > 0 && (n < lo || n > hi) {
		return sdk.Errorf(sdk.ReasonRejected,
			"the token takes PINs of %d to %d bytes, and the new PIN is not", lo, hi)
	}
	return nil
}

// session opens a session on the token, logs in as r with pin, runs act
// unless it is nil, and logs out and closes the session. It starts no
// login and no act once ctx has ended.
func (tok *token) session(
	ctx context.Context, r role, pin sdk.Secret, rw bool, act func(cryptoki.SessionHandle) error,
) error {
	flags := uint(cryptoki.CKF_SERIAL_SESSION)
	if rw {
		flags |= cryptoki.CKF_RW_SESSION
	}
	sh, err := tok.m.ctx.OpenSession(tok.slot, flags)
	if err != nil {
		return callError(err, "opening a session")
	}
	defer func() { _ = tok.m.ctx.CloseSession(sh) }()
	if ctx.Err() != nil {
		return contextError(ctx, "opening a session")
	}

	if err := tok.login(sh, r, pin); err != nil {
		return err
	}
	defer func() { _ = tok.m.ctx.Logout(sh) }()
	if act == nil {
		return nil
	}
	if ctx.Err() != nil {
		return contextError(ctx, "logging in")
	}
	return act(sh)
}

// login logs in as r with pin. The login state of a token is shared by
// every session of the process: one left behind is logged out first.
//
// TODO: miekg/pkcs11 takes PINs as Go strings, copies that the driver
// cannot wipe; calling C_Login through a byte slice would avoid them.
func (tok *token) login(sh cryptoki.SessionHandle, r role, pin sdk.Secret) error {
	err := tok.m.ctx.Login(sh, r.userType, string(pin.Reveal()))
	if isCKR(err, cryptoki.CKR_USER_ALREADY_LOGGED_IN,
		cryptoki.CKR_USER_ANOTHER_ALREADY_LOGGED_IN) {
		_ = tok.m.ctx.Logout(sh)
		err = tok.m.ctx.Login(sh, r.userType, string(pin.Reveal()))
	}
	switch {
	case err == nil:
		return nil
	case isCKR(err, refusedLogin...):
		return tok.refused(r, err)
	}
	return loginError(err, r)
}

// refused explains a PIN the token refused, reading from the token's
// flags whether the PIN is now locked or one wrong try from it.
func (tok *token) refused(r role, err error) error {
	info, ierr := tok.m.ctx.GetTokenInfo(tok.slot)
	switch {
	case ierr == nil && info.Flags&r.locked != 0:
		return sdk.Errorf(sdk.ReasonLockedOut,
			"the %s is locked after too many wrong tries: %s", r.pin, ckrText(err))
	case ierr == nil && info.Flags&r.finalTry != 0:
		return sdk.Errorf(sdk.ReasonAuthFailed,
			"the token refused the %s, and one more wrong try locks it: %s", r.pin, ckrText(err))
	}
	return loginError(err, r)
}
