package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// jobsKey is the server's jobs key in these tests, jobsPublic its public
// half.
var jobsPublic, jobsKey, _ = ed25519.GenerateKey(nil)

// open opens e as agent k of the test server.
func open(k *Keys, e *Envelope) ([]*Payload, error) { return NewOpener(k, jobsPublic).Open(e) }

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
	ps := []*Payload{
		{JobID: "j1", Op: OpChange, Driver: "file", Current: []byte("old-secret"),
			New: []byte("new-secret")},
		{JobID: "j2", Op: OpCheck, Driver: "file",
			Candidates: []Candidate{{Version: 3, Value: []byte("other-secret")}}},
	}
	seal := func(mod func(*Envelope)) *Envelope {
		e := &Envelope{AgentID: "agent-a", Jobs: []JobHeader{
			{JobID: "j1", Deadline: deadline}, {JobID: "j2", Deadline: deadline.Add(time.Second)},
		}}
		if err := e.Seal(a.HPKEPublic(), jobsKey, ps...); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"new-secret", "old-secret", "other-secret"} {
			if bytes.Contains(e.Sealed, []byte(s)) {
				t.Fatalf("sealed envelope holds %s in clear", s)
			}
		}
		if mod != nil {
			mod(e)
		}
		return e
	}
	got, err := open(a, seal(nil))
	if err != nil || len(got) != 2 || string(got[0].New) != "new-secret" ||
		string(got[1].Candidates[0].Value) != "other-secret" {
		t.Fatalf("Open = %v, %v", got, err)
	}
	cases := []struct {
		name string
		keys *Keys
		mod  func(*Envelope)
		want error
	}{
		{"another agent's keys", b, func(e *Envelope) { e.AgentID = "agent-b" }, ErrUnsigned},
		{"addressed elsewhere", a, func(e *Envelope) { e.AgentID = "agent-b" }, ErrNotForMe},
		{"later deadline", a, func(e *Envelope) {
			e.Jobs[1].Deadline = e.Jobs[1].Deadline.Add(time.Hour)
		}, ErrSeal},
		{"other job id", a, func(e *Envelope) { e.Jobs[0].JobID = "j3" }, ErrSeal},
		{"jobs swapped", a, func(e *Envelope) { e.Jobs[0], e.Jobs[1] = e.Jobs[1], e.Jobs[0] }, ErrSeal},
		{"job dropped", a, func(e *Envelope) { e.Jobs = e.Jobs[:1] }, ErrSeal},
		{"flipped byte", a, func(e *Envelope) { e.Sealed[len(e.Sealed)-1] ^= 1 }, ErrSeal},
		{"other number", a, func(e *Envelope) { e.Seq++ }, ErrSeal},
		{"flipped byte of the encapsulated key", a, func(e *Envelope) { e.Sealed[0] ^= 1 },
			ErrUnsigned},
		{"no signature of the sealer", a, func(e *Envelope) { e.SealerSig = nil }, ErrUnsigned},
		{"sealer signed with another key", a, func(e *Envelope) {
			_, other, _ := ed25519.GenerateKey(nil)
			e.SealerSig = ed25519.Sign(other, sealerMessage(e.AgentID, e.Sealed[:encSize]))
		}, ErrUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := open(tc.keys, seal(tc.mod)); !errors.Is(err, tc.want) {
				t.Errorf("Open error = %v, want %v", err, tc.want)
			}
		})
	}
}

// newSealer returns a new sealer to the agent of k, and k's parsed
// public key.
func newSealer(t *testing.T, k *Keys) (*Sealer, *PublicKey) {
	t.Helper()
	pk, err := ParsePublicKey(k.HPKEPublic())
	if err != nil {
		t.Fatal(err)
	}
	sl, err := NewSealer(k.AgentID, pk, jobsKey)
	if err != nil {
		t.Fatal(err)
	}
	return sl, pk
}

func TestSealers(t *testing.T) {
	a := newKeys(t, "agent-a")
	sl, pk := newSealer(t, a)
	if len(sl.enc) != encSize {
		t.Fatalf("encapsulated key is %d bytes, want %d", len(sl.enc), encSize)
	}
	env := func(id string) *Envelope {
		return &Envelope{AgentID: "agent-a", Jobs: []JobHeader{{JobID: id, Deadline: time.Now()}}}
	}
	seal := func(t *testing.T, sl *Sealer, id string) *Envelope {
		t.Helper()
		e := env(id)
		if err := e.SealWith(sl, &Payload{JobID: id, New: []byte("same-secret")}); err != nil {
			t.Fatal(err)
		}
		return e
	}

	t.Run("one sealer seals many envelopes, each under its own key", func(t *testing.T) {
		first, second := seal(t, sl, "j1"), seal(t, sl, "j2")
		if first.Seq == second.Seq {
			t.Errorf("two envelopes numbered %d", first.Seq)
		}
		if !bytes.Equal(first.Sealed[:encSize], second.Sealed[:encSize]) {
			t.Error("the envelopes of one sealer have different encapsulated keys")
		}
		o := NewOpener(a, jobsPublic)
		for _, e := range []*Envelope{second, first} {
			if ps, err := o.Open(e); err != nil || string(ps[0].New) != "same-secret" {
				t.Errorf("Open of envelope %d = %v, %v", e.Seq, ps, err)
			}
		}
		if len(o.ctxs) != 1 {
			t.Errorf("the opener keeps %d contexts for one sealer, want 1", len(o.ctxs))
		}
		// The number is bound in: an envelope cannot pass for another.
		first.Seq = second.Seq
		if _, err := o.Open(first); !errors.Is(err, ErrSeal) {
			t.Errorf("an envelope renumbered as another: %v", err)
		}
	})

	t.Run("an opener keeps only the contexts of envelopes that opened", func(t *testing.T) {
		o := NewOpener(a, jobsPublic)
		for i := range openerKeeps + 2 {
			other, err := NewSealer("agent-a", pk, jobsKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Open(seal(t, other, fmt.Sprint("k", i))); err != nil {
				t.Fatal(err)
			}
		}
		forged := seal(t, sl, "j-forged")
		forged.Sealed[encSize] ^= 1
		if _, err := o.Open(forged); !errors.Is(err, ErrSeal) {
			t.Errorf("a forged envelope: %v", err)
		}
		if len(o.ctxs) != openerKeeps || len(o.order) != openerKeeps {
			t.Errorf("the opener keeps %d contexts (%d in order), want %d", len(o.ctxs),
				len(o.order), openerKeeps)
		}
		if _, ok := o.ctxs[string(forged.Sealed[:encSize])]; ok {
			t.Error("the opener kept the context of an envelope that did not open")
		}
	})

	t.Run("a sealer is fresh for its key, its uses and its life", func(t *testing.T) {
		now := time.Now()
		other, err := ParsePublicKey(newKeys(t, "agent-b").HPKEPublic())
		if err != nil {
			t.Fatal(err)
		}
		used, err := NewSealer("agent-a", pk, jobsKey)
		if err != nil {
			t.Fatal(err)
		}
		used.next = SealerUses
		cases := []struct {
			name string
			sl   *Sealer
			pk   *PublicKey
			now  time.Time
			want bool
		}{
			{"new", sl, pk, now, true},
			{"another key", sl, other, now, false},
			{"past its life", sl, pk, now.Add(SealerLife), false},
			{"used up", used, pk, now, false},
		}
		for _, tc := range cases {
			if got := tc.sl.Fresh(tc.pk, tc.now); got != tc.want {
				t.Errorf("%s: Fresh = %v, want %v", tc.name, got, tc.want)
			}
		}
		if err := env("j-used").SealWith(used, &Payload{JobID: "j-used"}); !errors.Is(err, ErrBadBatch) {
			t.Errorf("a used-up sealer sealed: %v", err)
		}
	})

	t.Run("no sealer without the server's jobs key", func(t *testing.T) {
		if _, err := NewSealer("agent-a", pk, nil); err == nil {
			t.Error("NewSealer made a sealer it cannot sign")
		}
	})

	t.Run("a sealer made for another agent does not seal", func(t *testing.T) {
		other, err := NewSealer("agent-b", pk, jobsKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := env("j3").SealWith(other, &Payload{JobID: "j3"}); !errors.Is(err, ErrBadBatch) {
			t.Errorf("a sealer made for another agent sealed: %v", err)
		}
	})

	t.Run("a truncated envelope does not open", func(t *testing.T) {
		short := env("j4")
		short.Sealed = []byte("short")
		if _, err := open(a, short); !errors.Is(err, ErrSeal) {
			t.Errorf("a truncated envelope: %v", err)
		}
	})
}

func TestSealRefusesMismatchedPayloads(t *testing.T) {
	a := newKeys(t, "agent-a")
	deadline := time.Now().Add(time.Minute)
	many := make([]JobHeader, MaxBatch+1)
	manyP := make([]*Payload, MaxBatch+1)
	for i := range many {
		id := fmt.Sprintf("j%d", i)
		many[i], manyP[i] = JobHeader{JobID: id, Deadline: deadline}, &Payload{JobID: id}
	}
	cases := []struct {
		name string
		jobs []JobHeader
		ps   []*Payload
	}{
		{"no job", nil, nil},
		{"fewer payloads", []JobHeader{{JobID: "j1"}, {JobID: "j2"}}, []*Payload{{JobID: "j1"}}},
		{"payload of another job", []JobHeader{{JobID: "j1"}}, []*Payload{{JobID: "j2"}}},
		{"over the batch limit", many, manyP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &Envelope{AgentID: "agent-a", Jobs: tc.jobs}
			if err := e.Seal(a.HPKEPublic(), jobsKey, tc.ps...); !errors.Is(err, ErrBadBatch) {
				t.Errorf("Seal error = %v, want ErrBadBatch", err)
			}
		})
	}
}

func TestMsgIDs(t *testing.T) {
	batch := func(ids ...string) *Envelope {
		e := &Envelope{AgentID: "a"}
		for _, id := range ids {
			e.Jobs = append(e.Jobs, JobHeader{JobID: id})
		}
		return e
	}
	if batch("j1", "j2").MsgID() != batch("j1", "j2").MsgID() {
		t.Error("the same batch has two message ids")
	}
	for _, other := range []*Envelope{batch("j1"), batch("j2", "j1"), batch("j1", "j2", "j3"),
		batch("j1j2")} {
		if other.MsgID() == batch("j1", "j2").MsgID() {
			t.Errorf("batch %v shares the message id of j1, j2", other.Jobs)
		}
	}
	accepted := &Report{Events: []Event{{Kind: EventAccepted, JobID: "j1"}}}
	result := &Report{Events: []Event{{Kind: EventResult, JobID: "j1"}}}
	if accepted.MsgID() == result.MsgID() {
		t.Error("a job's accepted and result reports share a message id")
	}
}

func TestReportSignature(t *testing.T) {
	a, b := newKeys(t, "agent-a"), newKeys(t, "agent-b")
	r := &Report{Time: time.Now().UTC(), Events: []Event{
		{Kind: EventResult, JobID: "j1", OK: true},
		{Kind: EventAccepted, JobID: "j2"},
	}}
	r.Sign(a)
	if err := r.Verify(a.SigningPublic()); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	edits := map[string]func(*Report){
		"outcome changed": func(r *Report) { r.Events[0].OK = false },
		"event dropped":   func(r *Report) { r.Events = r.Events[1:] },
		"event added": func(r *Report) {
			r.Events = append(r.Events, Event{Kind: EventResult, JobID: "j3", OK: true})
		},
		"agent changed": func(r *Report) { r.AgentID = "agent-b" },
	}
	for name, edit := range edits {
		forged := *r
		forged.Events = slices.Clone(r.Events)
		edit(&forged)
		if err := forged.Verify(a.SigningPublic()); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: edited report verified: %v", name, err)
		}
	}
	if err := r.Verify(b.SigningPublic()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("report verified with another agent's key: %v", err)
	}
	other := &Report{Events: []Event{{Kind: EventResult, JobID: "j1", OK: true}}}
	other.Sign(b)
	other.AgentID = "agent-a"
	if err := other.Verify(a.SigningPublic()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("report signed by b verified as a: %v", err)
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

// TestSealersAndOpenersShared seals with one Sealer and opens with one
// Opener from many goroutines: every envelope gets a number of its own
// and opens.
func TestSealersAndOpenersShared(t *testing.T) {
	a := newKeys(t, "agent-a")
	sl, _ := newSealer(t, a)
	o := NewOpener(a, jobsPublic)
	const n = 64
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint("j", i)
			e := &Envelope{AgentID: "agent-a", Jobs: []JobHeader{{JobID: id, Deadline: time.Now()}}}
			if err := e.SealWith(sl, &Payload{JobID: id}); err != nil {
				t.Error(err)
				return
			}
			if _, err := o.Open(e); err != nil {
				t.Error(err)
			}
			seqs[i] = e.Seq
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	if uniq := slices.Compact(seqs); len(uniq) != n {
		t.Errorf("%d envelopes got %d numbers", n, len(uniq))
	}
}
