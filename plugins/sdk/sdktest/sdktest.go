// Package sdktest is a conformance suite for PassMan drivers. A driver's
// author calls Run from an ordinary Go test, with the driver and a live
// target that holds an account the suite may change at will, and the
// suite checks what PassMan relies on:
//
//   - describe: Describe names the driver, declares the credential type
//     under test and lists every parameter the target uses, the required
//     ones flagged;
//   - check: Check succeeds with the current value and fails with
//     auth_failed with any other, also when called concurrently;
//   - missing parameters: a target without one of its required parameters
//     is refused with invalid_params, by Check and by Change;
//   - change: after Change, the new value logs in and the old one fails
//     with auth_failed;
//   - rotate: sdk.Rotate, the change and the login after it in one call as
//     an agent makes it, succeeds and leaves the new value in place;
//   - prepare: sdk.Prepare, as an agent gets a change ready while its
//     server records the job's start, changes nothing until the change is
//     let proceed, nothing when it is dropped, fails with auth_failed for
//     a wrong current value, and leaves the new value in place once let
//     proceed;
//   - wrong current: Change with a wrong current value fails with
//     auth_failed and the target keeps its value;
//   - replay: the same change sent twice, with the same job id and values,
//     leaves the account holding the new value; the second call may
//     succeed again or fail, with any reason, as long as it changes
//     nothing;
//   - deadline: a call whose context has already expired fails at once
//     with timeout and changes nothing; a change whose deadline comes
//     while it runs returns within three seconds of it, with success or
//     timeout, and a second later the account holds exactly one of the
//     current and the new value;
//   - reconcile: a driver that supports a reconcile account replaces a
//     value nobody told it of by logging in as that account; one that does
//     not refuses a reconcile request with unsupported;
//   - no secrets: no error message, and no line of the driver's log, holds
//     any value the suite used, in clear, hex or base64.
//
// Every error a driver returns must be an *sdk.Error with a known reason
// (or, at a deadline, a context error). The suite tracks the value the
// account holds from step to step; when a step fails it finds the value
// again among those it tried, or puts the target back with Target.Reset,
// so that the next steps still run.
//
// Run calls the driver in the test's process. RunPlugin starts the
// compiled plugin the way an agent does, through the agent's plugin host,
// and runs the same suite across the process boundary. Network, for
// drivers that reach their target over the network, needs no live target:
// it checks the reasons and the timing of the driver's failures when the
// target is not there or never answers.
package sdktest

import (
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/passman-dev/passman/plugins/sdk"
)

// DefaultTimeout bounds each call the suite makes when Target.Timeout is
// zero.
const DefaultTimeout = 30 * time.Second

// grace is how long after its deadline a call may take to return.
const grace = 3 * time.Second

// Target is the live target the suite runs against and what the suite
// needs to know about it.
type Target struct {
	// Target is the target as PassMan sends it to the driver. Its Params
	// must hold every required parameter and only parameters Describe
	// lists.
	Target sdk.Target
	// Account is the account whose credential the suite changes. The
	// suite changes it many times; use an account made for the test.
	Account string
	// Type is the credential type to change: sdk.Password, sdk.SSHKey
	// or sdk.PIN.
	Type string
	// Current is the value the account holds when the suite starts.
	Current sdk.Secret
	// NewValue returns a value the target accepts as a new credential,
	// a different one at each call. Values of 8 bytes or more make the
	// search for secrets in logs meaningful; shorter ones are not looked
	// for there, since they turn up in any log by chance.
	NewValue func() sdk.Secret
	// Reconcile is the reconcile account's login, for a driver whose
	// Describe reports Reconcile. Optional: without it the reconcile step
	// is skipped for such a driver.
	Reconcile *sdk.Login
	// Reset sets the account's credential to value without the driver,
	// failing t when it cannot. Optional: with it the reconcile step
	// starts from a value the driver was never told of, and the suite
	// can recover after a step that left the account's value unknown.
	Reset func(t *testing.T, value sdk.Secret)
	// Logs returns what the driver has logged so far. Optional: without
	// it the search for secrets covers error messages only. RunPlugin
	// adds the plugin's own log lines to it.
	Logs func() string
	// Timeout bounds each call the suite makes to the driver; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Run runs the conformance suite against d, a driver in the test's
// process, on tgt. Each step is a subtest of t.
func Run(t *testing.T, d sdk.Driver, tgt Target) {
	t.Helper()
	run(t, d, tgt, runOptions{})
}

// runOptions say how the driver is reached.
type runOptions struct {
	// flush, when set, is called before the logs are searched, to make
	// sure they are complete.
	flush func()
}

// run runs the suite's steps in order.
func run(t *testing.T, d sdk.Driver, tgt Target, opts runOptions) {
	t.Helper()
	s := newSuite(t, d, tgt)
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"describe", s.describe},
		{"check", s.check},
		{"missing parameters", s.missingParams},
		{"change", s.change},
		{"rotate", s.rotate},
		{"prepare", s.prepare},
		{"wrong current", s.wrongCurrent},
		{"replay", s.replay},
		{"deadline", s.deadline},
		{"reconcile", s.reconcile},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			if s.lost {
				t.Skip("the account's value is unknown after an earlier step failed")
			}
			st.run(t)
		})
		if !ok && !s.lost {
			s.resync(t)
		}
		s.pending = nil
	}
	if opts.flush != nil {
		opts.flush()
	}
	t.Run("no secrets in logs", s.noSecretsInLogs)
}

// suite is one run of the suite: the driver, the target and what the
// suite knows of the account.
type suite struct {
	d       sdk.Driver
	tgt     Target
	desc    *sdk.Description
	timeout time.Duration

	// current is the value the account holds, as far as the suite knows.
	current sdk.Secret
	// pending are the values a running step tried to set; after a failed
	// step the account may hold one of them.
	pending []sdk.Secret
	// lost is set when the suite no longer knows the account's value.
	lost bool
	// changeTime is the shortest time a successful change took, or zero.
	changeTime time.Duration

	mu sync.Mutex
	// used are all the values the suite gave the driver.
	used []sdk.Secret
	jobs int
}

// newSuite checks tgt and describes the driver.
func newSuite(t *testing.T, d sdk.Driver, tgt Target) *suite {
	t.Helper()
	switch {
	case d == nil:
		t.Fatal("sdktest: no driver")
	case tgt.Type == "":
		t.Fatal("sdktest: Target.Type is empty")
	case tgt.Current.IsEmpty():
		t.Fatal("sdktest: Target.Current is empty")
	case tgt.NewValue == nil:
		t.Fatal("sdktest: Target.NewValue is nil")
	}
	s := &suite{d: d, tgt: tgt, timeout: tgt.Timeout, current: clone(tgt.Current)}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	s.use(s.current)
	if tgt.Reconcile != nil {
		s.use(tgt.Reconcile.Credential.Value)
	}

	ctx, cancel := s.callContext(t)
	defer cancel()
	desc, err := d.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %s", s.errText(err))
	}
	if desc == nil {
		t.Fatal("Describe returned neither a description nor an error")
	}
	s.desc = desc
	return s
}

// newValue returns a fresh value from the target, remembered as used.
func (s *suite) newValue(t *testing.T) sdk.Secret {
	t.Helper()
	v := s.tgt.NewValue()
	if v.IsEmpty() {
		t.Fatal("Target.NewValue returned an empty value")
	}
	s.use(v)
	return clone(v)
}

// use remembers v as a value the driver was given.
func (s *suite) use(v sdk.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = append(s.used, clone(v))
}

// usedValues returns every value the driver was given so far.
func (s *suite) usedValues() []sdk.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdk.Secret(nil), s.used...)
}

// jobID returns a job id no earlier call used.
func (s *suite) jobID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs++
	return "sdktest-" + strconv.Itoa(s.jobs)
}

// target returns a copy of the target, so that a driver that changes its
// request cannot change the suite's.
func (s *suite) target() sdk.Target {
	t := s.tgt.Target
	t.Params = maps.Clone(t.Params)
	return t
}

// resync finds the account's value after a failed step: the one of the
// current and pending values that logs in, or, failing that, the current
// one put back with Reset. Without either the suite has lost track.
func (s *suite) resync(t *testing.T) {
	t.Helper()
	cands := append([]sdk.Secret{s.current}, s.pending...)
	for i, err := range s.probe(t, cands...) {
		if err == nil {
			s.current = cands[i]
			return
		}
	}
	if s.tgt.Reset == nil {
		t.Log("sdktest: no value the suite tried logs in, and Target.Reset is not set")
		s.lost = true
		return
	}
	s.tgt.Reset(t, clone(s.current))
	if err := s.probe(t, s.current)[0]; err != nil {
		t.Logf("sdktest: the value Target.Reset set does not log in: %s", s.errText(err))
		s.lost = true
	}
}

// clone returns a copy of v that a driver may wipe without harm.
func clone(v sdk.Secret) sdk.Secret { return sdk.NewSecret(v.Reveal()) }
