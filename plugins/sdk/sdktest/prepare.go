package sdktest

import (
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

// prepare gets changes ready through sdk.Prepare, as an agent does while
// its server records that a job starts: a change dropped must leave the
// account as it was, before and after it is dropped; one with a wrong
// current value must fail with auth_failed, when prepared or when let
// proceed, and change nothing; and one let proceed must leave the new
// value in place. A driver that does not prepare makes the whole change
// when it is let proceed.
func (s *suite) prepare(t *testing.T) {
	old, next := s.current, s.newValue(t)
	s.pending = []sdk.Secret{next}
	ctx, cancel := s.callContext(t)
	defer cancel()

	p, err := sdk.Prepare(ctx, s.d, s.request(clone(old), clone(next), nil))
	if !s.wantOK(t, "Prepare", err) {
		return
	}
	unchanged := s.wantHolds(t, old, next)
	p.Close()
	if !unchanged || !s.wantHolds(t, old, next) {
		t.Error("a change that was prepared and dropped changed the account")
		return
	}

	wrong := s.newValue(t)
	p, err = sdk.Prepare(ctx, s.d, s.request(wrong, clone(next), nil))
	if err == nil {
		_, err = p.Rotate(ctx)
	}
	s.wantReason(t, "a prepared change with a wrong current value", err, sdk.ReasonAuthFailed)
	if !s.wantHolds(t, old, next) {
		return
	}

	p, err = sdk.Prepare(ctx, s.d, s.request(clone(old), clone(next), nil))
	if !s.wantOK(t, "Prepare", err) {
		return
	}
	res, err := p.Rotate(ctx)
	s.rotated(t, "Rotate of a prepared change", res, err, old, next)
}
