package sdktest

import (
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

// reconcileProbe is the account the suite names in a reconcile request to
// a driver without reconcile support, when the target gives none.
const reconcileProbe = "sdktest-reconcile"

// reconcile checks a change through the reconcile account, or, for a
// driver without one, that it refuses such a change.
func (s *suite) reconcile(t *testing.T) {
	switch {
	case !s.desc.Reconcile:
		s.reconcileUnsupported(t)
	case s.tgt.Reconcile == nil:
		t.Skip("the driver supports a reconcile account; set Target.Reconcile to test it")
	default:
		if t.Run("wrong reconcile credential", s.reconcileWrong) {
			t.Run("unknown value replaced", s.reconcileUnknown)
		}
	}
}

// reconcileUnsupported sends a reconcile request to a driver whose
// Describe says it has no reconcile account.
func (s *suite) reconcileUnsupported(t *testing.T) {
	rec := s.tgt.Reconcile
	if rec == nil {
		rec = &sdk.Login{
			Account:    reconcileProbe,
			Credential: sdk.Credential{Type: s.tgt.Type, Value: s.newValue(t)},
		}
	}
	next := s.newValue(t)
	s.pending = []sdk.Secret{next}
	err := s.changeValue(t, s.request(s.current, next, rec))
	s.wantReason(t, "Change through a reconcile account, which Describe does not offer",
		err, sdk.ReasonUnsupported)
	s.wantHolds(t, s.current, next)
}

// reconcileWrong sends a reconcile request whose reconcile credential is
// wrong. It takes a wrong value from Target.NewValue, so it runs only
// when the reconcile credential is of the type under test.
func (s *suite) reconcileWrong(t *testing.T) {
	rec := *s.tgt.Reconcile
	if rec.Credential.Type != s.tgt.Type {
		t.Skipf("the reconcile credential is a %s, and Target.NewValue makes %s values",
			rec.Credential.Type, s.tgt.Type)
	}
	rec.Credential.Value = s.newValue(t)
	next := s.newValue(t)
	s.pending = []sdk.Secret{next}
	err := s.changeValue(t, s.request(sdk.Secret{}, next, &rec))
	s.wantReason(t, "Change with a wrong reconcile credential", err, sdk.ReasonAuthFailed)
	s.wantHolds(t, s.current, next)
}

// reconcileUnknown sets, out of band when the target can, a value the
// driver is never told of, and has the reconcile account replace it.
func (s *suite) reconcileUnknown(t *testing.T) {
	old := s.current
	if s.tgt.Reset != nil {
		old = s.newValue(t)
		s.tgt.Reset(t, clone(old))
		s.current = old
	}
	next := s.newValue(t)
	s.pending = []sdk.Secret{next}
	err := s.changeValue(t, s.request(sdk.Secret{}, next, s.tgt.Reconcile))
	if !s.wantOK(t, "Change through the reconcile account", err) {
		return
	}
	if s.wantHolds(t, next, old) {
		s.current = next
	}
}
