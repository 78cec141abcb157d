package sdktest

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

// knownReasons are the reasons a driver may report.
var knownReasons = map[sdk.Reason]bool{
	sdk.ReasonAuthFailed:      true,
	sdk.ReasonUnreachable:     true,
	sdk.ReasonTimeout:         true,
	sdk.ReasonHostKeyMismatch: true,
	sdk.ReasonLockedOut:       true,
	sdk.ReasonUnsupported:     true,
	sdk.ReasonInvalidParams:   true,
	sdk.ReasonRejected:        true,
	sdk.ReasonFailed:          true,
}

// callContext returns the context of one ordinary call.
func (s *suite) callContext(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), s.timeout)
}

// checkIn asks the driver to log in with v under ctx.
func (s *suite) checkIn(ctx context.Context, tg sdk.Target, v sdk.Secret) error {
	_, err := s.d.Check(ctx, &sdk.CheckRequest{
		JobID:      s.jobID(),
		Target:     tg,
		Account:    s.tgt.Account,
		Credential: sdk.Credential{Type: s.tgt.Type, Value: clone(v)},
	})
	return err
}

// checkValue asks the driver to log in with v.
func (s *suite) checkValue(t *testing.T, v sdk.Secret) error {
	ctx, cancel := s.callContext(t)
	defer cancel()
	return s.checkIn(ctx, s.target(), v)
}

// probe checks every value at once and returns each one's error.
func (s *suite) probe(t *testing.T, values ...sdk.Secret) []error {
	errs := make([]error, len(values))
	var wg sync.WaitGroup
	for i, v := range values {
		wg.Go(func() { errs[i] = s.checkValue(t, v) })
	}
	wg.Wait()
	return errs
}

// request returns a change request from current to next under a new job
// id. current may be empty.
func (s *suite) request(current, next sdk.Secret, rec *sdk.Login) *sdk.ChangeRequest {
	return &sdk.ChangeRequest{
		JobID:     s.jobID(),
		Target:    s.target(),
		Account:   s.tgt.Account,
		Type:      s.tgt.Type,
		Current:   current,
		New:       next,
		Reconcile: rec,
	}
}

// send sends a copy of req, so that req can be sent again whatever the
// driver does with its request.
func (s *suite) send(ctx context.Context, req *sdk.ChangeRequest) error {
	c := *req
	c.Target.Params = maps.Clone(req.Target.Params)
	c.Current, c.New = clone(req.Current), clone(req.New)
	if req.Reconcile != nil {
		r := *req.Reconcile
		r.Credential.Value = clone(r.Credential.Value)
		c.Reconcile = &r
	}
	_, err := s.d.Change(ctx, &c)
	return err
}

// changeValue sends req with an ordinary context.
func (s *suite) changeValue(t *testing.T, req *sdk.ChangeRequest) error {
	ctx, cancel := s.callContext(t)
	defer cancel()
	return s.send(ctx, req)
}

// reason returns the reason of a driver's error: "" for nil, the reason
// of an *sdk.Error, timeout for a passed deadline, failed for a cancelled
// context. Any other error, an unknown reason and a message that holds a
// credential fail t.
func (s *suite) reason(t *testing.T, what string, err error) sdk.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	if form, ok := leak(err.Error(), s.usedValues()); ok {
		t.Errorf("%s: the error message holds a credential value (%s)", what, form)
	}
	var e *sdk.Error
	switch {
	case errors.As(err, &e):
		if !knownReasons[e.Reason] {
			t.Errorf("%s: unknown reason %q in %s", what, e.Reason, s.errText(err))
			return sdk.ReasonFailed
		}
		return e.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return sdk.ReasonTimeout
	case errors.Is(err, context.Canceled):
		return sdk.ReasonFailed
	}
	t.Errorf("%s: the error is a %T, not an *sdk.Error: %s", what, err, s.errText(err))
	return sdk.ReasonFailed
}

// wantOK fails t unless err is nil.
func (s *suite) wantOK(t *testing.T, what string, err error) bool {
	t.Helper()
	if err != nil {
		s.reason(t, what, err)
		t.Errorf("%s: %s; want success", what, s.errText(err))
		return false
	}
	return true
}

// wantReason fails t unless err has one of the reasons.
func (s *suite) wantReason(t *testing.T, what string, err error, want ...sdk.Reason) bool {
	t.Helper()
	got := s.reason(t, what, err)
	for _, w := range want {
		if got == w {
			return true
		}
	}
	if err == nil {
		t.Errorf("%s succeeded; want a failure with reason %s", what, joinReasons(want))
	} else {
		t.Errorf("%s: %s; want reason %s", what, s.errText(err), joinReasons(want))
	}
	return false
}

// wantHolds fails t unless the account logs in with value and with none
// of the others, which must fail with auth_failed.
func (s *suite) wantHolds(t *testing.T, value sdk.Secret, others ...sdk.Secret) bool {
	t.Helper()
	errs := s.probe(t, append([]sdk.Secret{value}, others...)...)
	ok := s.wantOK(t, "Check with the value the account should hold", errs[0])
	for _, err := range errs[1:] {
		ok = s.wantReason(t, "Check with a value the account should not hold", err,
			sdk.ReasonAuthFailed) && ok
	}
	return ok
}

// whichOf returns the one of a and b the account logs in with. When both
// or neither log in it fails t and returns false.
func (s *suite) whichOf(t *testing.T, a, b sdk.Secret) (sdk.Secret, bool) {
	t.Helper()
	errs := s.probe(t, a, b)
	switch {
	case errs[0] == nil && errs[1] == nil:
		t.Errorf("the account logs in with both the current and the new value: " +
			"the change was left half done")
	case errs[0] == nil:
		s.wantReason(t, "Check with the new value", errs[1], sdk.ReasonAuthFailed)
		return a, true
	case errs[1] == nil:
		s.wantReason(t, "Check with the current value", errs[0], sdk.ReasonAuthFailed)
		return b, true
	default:
		t.Errorf("the account logs in with neither the current nor the new value "+
			"(%s; %s)", s.errText(errs[0]), s.errText(errs[1]))
	}
	return sdk.Secret{}, false
}

// errText returns err's message with every value the suite used hidden.
func (s *suite) errText(err error) string {
	if err == nil {
		return "success"
	}
	return redact(err.Error(), s.usedValues())
}

func joinReasons(rs []sdk.Reason) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, " or ")
}
