package wire

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func newKeys(t *testing.T, id string) *Keys {
	t.Helper()
	k, err := NewKeys(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEnvelopeSealOpen(t *testing.T) {
	a, b := newKeys(t, "agent-a"), newKeys(t, "agent-b")
	deadline := time.Now().Add(time.Minute).UTC()
	p := &Payload{JobID: "j1", Op: OpChange, Driver: "file", Current: []byte("old-secret"),
		New: []byte("new-secret")}
	seal := func(mod func(*Envelope)) *Envelope {
		e := &Envelope{JobID: "j1", AgentID: "agent-a", Deadline: deadline}
		if err := e.Seal(a.HPKEPublic(), p); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(e.Sealed, []byte("new-secret")) {
			t.Fatal("sealed envelope holds the secret in clear")
		}
		if mod != nil {
			mod(e)
		}
		return e
	}
	got, err := seal(nil).Open(a)
	if err != nil || string(got.New) != "new-secret" {
		t.Fatalf("Open = %v, %v", got, err)
	}
	cases := []struct {
		name string
		keys *Keys
		mod  func(*Envelope)
		want error
	}{
		{"another agent's keys", b, func(e *Envelope) { e.AgentID = "agent-b" }, ErrSeal},
		{"addressed elsewhere", a, func(e *Envelope) { e.AgentID = "agent-b" }, ErrNotForMe},
		{"later deadline", a, func(e *Envelope) { e.Deadline = e.Deadline.Add(time.Hour) }, ErrSeal},
		{"other job id", a, func(e *Envelope) { e.JobID = "j2" }, ErrSeal},
		{"flipped byte", a, func(e *Envelope) { e.Sealed[len(e.Sealed)-1] ^= 1 }, ErrSeal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := seal(tc.mod).Open(tc.keys); !errors.Is(err, tc.want) {
				t.Errorf("Open error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEventSignature(t *testing.T) {
	a, b := newKeys(t, "agent-a"), newKeys(t, "agent-b")
	e := &Event{Kind: EventResult, JobID: "j1", Time: time.Now().UTC(), OK: true}
	e.Sign(a)
	if err := e.Verify(a.SigningPublic()); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	forged := *e
	forged.OK = false
	if err := forged.Verify(a.SigningPublic()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("edited event verified: %v", err)
	}
	if err := e.Verify(b.SigningPublic()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("event verified with another agent's key: %v", err)
	}
	other := &Event{Kind: EventResult, JobID: "j1", OK: true}
	other.Sign(b)
	other.AgentID = "agent-a"
	if err := other.Verify(a.SigningPublic()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("event signed by b verified as a: %v", err)
	}
}

func TestKeysRoundTrip(t *testing.T) {
	a := newKeys(t, "agent-a")
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ParseKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a2.HPKEPublic(), a.HPKEPublic()) || !bytes.Equal(a2.SigningPublic(), a.SigningPublic()) {
		t.Fatal("keys differ after a round trip")
	}
}
