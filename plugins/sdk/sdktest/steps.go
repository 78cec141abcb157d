package sdktest

import (
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passman-dev/passman/plugins/sdk"
)

// namePattern is what a driver's name must look like: the agent finds the
// driver in a file named passman-driver-<name>.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// credentialTypes are the credential types PassMan knows.
var credentialTypes = []string{sdk.Password, sdk.SSHKey, sdk.PIN}

// describe checks the driver's description against the target.
func (s *suite) describe(t *testing.T) {
	d := s.desc
	if !namePattern.MatchString(d.Name) {
		t.Errorf("Describe: name %q; want lower-case letters, digits, - and _", d.Name)
	}
	for _, ct := range d.CredentialTypes {
		if !slices.Contains(credentialTypes, ct) {
			t.Errorf("Describe: unknown credential type %q", ct)
		}
	}
	if !slices.Contains(d.CredentialTypes, s.tgt.Type) {
		t.Errorf("Describe: credential types %q do not include %q, the type under test",
			d.CredentialTypes, s.tgt.Type)
	}

	described := map[string]bool{}
	for _, p := range d.Params {
		switch {
		case p.Name == "":
			t.Error("Describe: a parameter has no name")
		case described[p.Name]:
			t.Errorf("Describe: parameter %q is listed twice", p.Name)
		case p.Description == "":
			t.Errorf("Describe: parameter %q has no description", p.Name)
		}
		described[p.Name] = true
		if p.Required && s.tgt.Target.Params[p.Name] == "" {
			t.Errorf("Describe: parameter %q is required, but the target under test "+
				"does not set it", p.Name)
		}
	}
	for name := range s.tgt.Target.Params {
		if !described[name] {
			t.Errorf("the target sets parameter %q, which Describe does not list; "+
				"PassMan refuses targets with such parameters", name)
		}
	}
}

// check logs in with the current value and a wrong one, at once.
func (s *suite) check(t *testing.T) {
	wrong := s.newValue(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			s.wantOK(t, "Check with the current value", s.checkValue(t, s.current))
		})
	}
	wg.Go(func() {
		s.wantReason(t, "Check with a wrong value", s.checkValue(t, wrong),
			sdk.ReasonAuthFailed)
	})
	wg.Wait()
}

// missingParams leaves out each required parameter in turn.
func (s *suite) missingParams(t *testing.T) {
	var required []string
	for _, p := range s.desc.Params {
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if len(required) == 0 {
		t.Skip("the driver has no required parameter")
	}
	next := s.newValue(t)
	for _, name := range required {
		tg := s.target()
		delete(tg.Params, name)

		ctx, cancel := s.callContext(t)
		err := s.checkIn(ctx, tg, s.current)
		s.wantReason(t, "Check without parameter "+name, err, sdk.ReasonInvalidParams)
		req := s.request(s.current, next, nil)
		req.Target = tg
		err = s.send(ctx, req)
		cancel()
		s.wantReason(t, "Change without parameter "+name, err, sdk.ReasonInvalidParams)
	}
	s.pending = []sdk.Secret{next}
	s.wantHolds(t, s.current, next)
}

// change changes the credential and checks which values log in after.
func (s *suite) change(t *testing.T) {
	old, next := s.current, s.newValue(t)
	s.pending = []sdk.Secret{next}
	start := time.Now()
	err := s.changeValue(t, s.request(old, next, nil))
	took := time.Since(start)
	if !s.wantOK(t, "Change", err) {
		return
	}
	if s.wantHolds(t, next, old) {
		s.current = next
		s.noteChangeTime(took)
	}
}

// rotate changes the value and logs in with the new one in one call, as
// an agent does: through sdk.Rotate, so over the plugin's connection once
// when the driver runs as a plugin.
func (s *suite) rotate(t *testing.T) {
	old, next := s.current, s.newValue(t)
	s.pending = []sdk.Secret{next}
	ctx, cancel := s.callContext(t)
	res, err := sdk.Rotate(ctx, s.d, s.request(old, next, nil))
	cancel()
	s.rotated(t, "Rotate", res, err, old, next)
}

// rotated checks what a rotation from old to next answered: it worked,
// and so did its login with next, and the account now holds next.
func (s *suite) rotated(t *testing.T, what string, res *sdk.RotateResult, err error,
	old, next sdk.Secret) {
	t.Helper()
	if !s.wantOK(t, what, err) {
		return
	}
	if res.CheckErr != nil {
		t.Errorf("%s: logging in with the new value failed: reason %s", what,
			s.reason(t, what+"'s login", res.CheckErr))
	}
	if s.wantHolds(t, next, old) {
		s.current = next
	}
}

// noteChangeTime keeps the shortest time a successful change took.
func (s *suite) noteChangeTime(took time.Duration) {
	if s.changeTime == 0 || took < s.changeTime {
		s.changeTime = took
	}
}

// wrongCurrent asks for a change with a wrong current value.
func (s *suite) wrongCurrent(t *testing.T) {
	wrong, next := s.newValue(t), s.newValue(t)
	s.pending = []sdk.Secret{next}
	err := s.changeValue(t, s.request(wrong, next, nil))
	s.wantReason(t, "Change with a wrong current value", err, sdk.ReasonAuthFailed)
	s.wantHolds(t, s.current, next)
}

// replay sends the same change twice, as an agent might after a restart.
// The second may succeed or fail; either way the account must hold the
// new value.
func (s *suite) replay(t *testing.T) {
	old, next := s.current, s.newValue(t)
	s.pending = []sdk.Secret{next}
	req := s.request(old, next, nil)
	start := time.Now()
	if !s.wantOK(t, "Change", s.changeValue(t, req)) {
		return
	}
	s.noteChangeTime(time.Since(start))
	err := s.changeValue(t, req)
	if err != nil {
		t.Logf("the replayed change failed, which the suite allows: reason %s",
			s.reason(t, "Change replayed", err))
	}
	if s.wantHolds(t, next, old) {
		s.current = next
	}
}
