package sdktest

import (
	"context"
	"testing"
	"time"

	"github.com/passman-dev/passman/plugins/sdk"
)

// settle is how long the suite waits, after a change ended at its
// deadline, before it looks at the target. A change the driver gave up on
// can still complete there a moment later (a password program that has
// read both answers), and a driver in a plugin process learns of the
// deadline a moment after the agent's side.
const settle = time.Second

// cutShortShares are the shares of a change's usual length after which
// the deadline step stops a change.
var cutShortShares = []int{10, 35, 70}

// minBudget is the least time a cut-short change gets.
const minBudget = 20 * time.Microsecond

// deadline checks calls whose context ends before or while they run.
func (s *suite) deadline(t *testing.T) {
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"check after the deadline", s.checkExpired},
		{"change after the deadline", s.changeExpired},
		{"change cancelled", s.changeCancelled},
		{"change cut short", s.changeCutShort},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return
		}
	}
}

// expired returns a context whose deadline has passed.
func expired(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	return ctx
}

// wantPrompt fails t when a call that began at start took more than
// grace past its deadline.
func wantPrompt(t *testing.T, what string, start time.Time, deadline time.Duration) {
	t.Helper()
	if took := time.Since(start); took > deadline+grace {
		t.Errorf("%s took %v with a deadline %v away; want it to return within %v of "+
			"the deadline", what, took.Round(time.Millisecond), deadline, grace)
	}
}

func (s *suite) checkExpired(t *testing.T) {
	start := time.Now()
	err := s.checkIn(expired(t), s.target(), s.current)
	wantPrompt(t, "Check", start, 0)
	s.wantReason(t, "Check after its deadline", err, sdk.ReasonTimeout)
}

// changeExpired asks for a change too late: a driver must not act on it.
func (s *suite) changeExpired(t *testing.T) {
	next := s.newValue(t)
	s.pending = []sdk.Secret{next}
	start := time.Now()
	err := s.send(expired(t), s.request(s.current, next, nil))
	wantPrompt(t, "Change", start, 0)
	s.wantReason(t, "Change after its deadline", err, sdk.ReasonTimeout)
	s.wantHolds(t, s.current, next)
}

// changeCancelled asks for a change with a cancelled context. Across a
// plugin's process boundary a cancellation arrives as failed.
func (s *suite) changeCancelled(t *testing.T) {
	next := s.newValue(t)
	s.pending = []sdk.Secret{next}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	err := s.send(ctx, s.request(s.current, next, nil))
	wantPrompt(t, "Change", start, 0)
	s.wantReason(t, "Change with a cancelled context", err,
		sdk.ReasonTimeout, sdk.ReasonFailed)
	s.wantHolds(t, s.current, next)
}

// changeCutShort lets changes run into their deadline at several points
// of their usual length, and finds which value each one left.
func (s *suite) changeCutShort(t *testing.T) {
	for _, budget := range s.cutShortBudgets() {
		if !t.Run("deadline "+budget.String(), func(t *testing.T) {
			s.cutShort(t, budget)
		}) {
			return
		}
	}
}

// cutShortBudgets returns the time each cut-short change gets, in
// increasing order and each once.
func (s *suite) cutShortBudgets() []time.Duration {
	if s.changeTime == 0 {
		return []time.Duration{time.Millisecond, 20 * time.Millisecond}
	}
	var out []time.Duration
	for _, share := range cutShortShares {
		b := max(s.changeTime*time.Duration(share)/100, minBudget).Round(time.Microsecond)
		if len(out) == 0 || b > out[len(out)-1] {
			out = append(out, b)
		}
	}
	return out
}

// cutShort runs one change with a deadline budget away.
func (s *suite) cutShort(t *testing.T, budget time.Duration) {
	old, next := s.current, s.newValue(t)
	s.pending = []sdk.Secret{next}
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()
	start := time.Now()
	err := s.send(ctx, s.request(old, next, nil))
	wantPrompt(t, "Change", start, budget)
	if err == nil {
		t.Log("the change finished before its deadline")
		if s.wantHolds(t, next, old) {
			s.current = next
		}
		return
	}
	s.wantReason(t, "Change stopped by its deadline", err, sdk.ReasonTimeout)
	time.Sleep(settle)
	if v, ok := s.whichOf(t, old, next); ok {
		s.current = v
		t.Logf("the change stopped at its deadline; the account holds the %s value",
			map[bool]string{true: "old", false: "new"}[v.Equal(old)])
	}
}
