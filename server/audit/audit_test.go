package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/server/audit"
)

// base is the time of the first record of a test chain.
var base = time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)

// newChain returns n linked records and the head they end at.
func newChain(t *testing.T, n int) ([]audit.Record, uint64, []byte) {
	t.Helper()
	var recs []audit.Record
	var prev []byte
	for i := range n {
		r := audit.Record{
			Time:    base.Add(time.Duration(i) * time.Minute),
			Actor:   fmt.Sprintf("user%d", i),
			Op:      "credential.reset",
			Path:    fmt.Sprintf("dc1/web%d/root", i),
			Outcome: audit.OK,
			Code:    "",
			Detail:  fmt.Sprintf("step %d", i),
			JobID:   fmt.Sprintf("job-%d", i),
		}
		r.Link(uint64(i+1), prev)
		prev = r.Hash
		recs = append(recs, r)
	}
	return recs, uint64(n), prev
}

// verify checks recs in order and then the head, returning the first error.
func verify(recs []audit.Record, headSeq uint64, headHash []byte) error {
	var v audit.Verifier
	for _, r := range recs {
		if err := v.Add(r); err != nil {
			return err
		}
	}
	return v.Finish(headSeq, headHash)
}

func TestVerifierAcceptsIntactChain(t *testing.T) {
	for _, n := range []int{0, 1, 2, 10} {
		t.Run(fmt.Sprintf("%d records", n), func(t *testing.T) {
			recs, seq, hash := newChain(t, n)
			var v audit.Verifier
			for _, r := range recs {
				if err := v.Add(r); err != nil {
					t.Fatalf("Add(%d): %v", r.Seq, err)
				}
			}
			if err := v.Finish(seq, hash); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if got := v.Count(); got != uint64(n) {
				t.Errorf("Count = %d; want %d", got, n)
			}
		})
	}
}

func TestVerifierDetectsTampering(t *testing.T) {
	const n = 5
	tests := []struct {
		name   string
		tamper func(recs []audit.Record) []audit.Record
		// head replaces the chain's head when set.
		head func(recs []audit.Record) (uint64, []byte)
	}{
		{name: "edited actor", tamper: edit(func(r *audit.Record) { r.Actor = "mallory" })},
		{name: "edited op", tamper: edit(func(r *audit.Record) { r.Op = "credential.read" })},
		{name: "edited path", tamper: edit(func(r *audit.Record) { r.Path = "dc1/other/root" })},
		{name: "edited outcome", tamper: edit(func(r *audit.Record) { r.Outcome = audit.Failed })},
		{name: "edited code", tamper: edit(func(r *audit.Record) { r.Code = "auth_failed" })},
		{name: "edited detail", tamper: edit(func(r *audit.Record) { r.Detail = "" })},
		{name: "edited job id", tamper: edit(func(r *audit.Record) { r.JobID = "job-x" })},
		{
			name:   "edited time",
			tamper: edit(func(r *audit.Record) { r.Time = r.Time.Add(time.Nanosecond) }),
		},
		{name: "edited seq", tamper: edit(func(r *audit.Record) { r.Seq = 30 })},
		{
			name:   "edited hash",
			tamper: edit(func(r *audit.Record) { r.Hash = make([]byte, len(r.Hash)) }),
		},
		{name: "edited prev", tamper: edit(func(r *audit.Record) { r.Prev = nil })},
		{
			name:   "removed in the middle",
			tamper: func(recs []audit.Record) []audit.Record { return slices.Delete(recs, 2, 3) },
		},
		{
			name:   "removed first",
			tamper: func(recs []audit.Record) []audit.Record { return recs[1:] },
		},
		{
			name: "two swapped",
			tamper: func(recs []audit.Record) []audit.Record {
				recs[1], recs[2] = recs[2], recs[1]
				return recs
			},
		},
		{
			name: "two swapped and renumbered",
			tamper: func(recs []audit.Record) []audit.Record {
				recs[1], recs[2] = recs[2], recs[1]
				recs[1].Seq, recs[2].Seq = 2, 3
				return recs
			},
		},
		{
			name: "duplicated",
			tamper: func(recs []audit.Record) []audit.Record {
				return slices.Insert(recs, 2, recs[1])
			},
		},
		{
			name:   "cut from the end",
			tamper: func(recs []audit.Record) []audit.Record { return recs[:n-1] },
		},
		{
			name:   "all cut",
			tamper: func(recs []audit.Record) []audit.Record { return nil },
		},
		{
			name: "forged with a wrong prev",
			tamper: func(recs []audit.Record) []audit.Record {
				forged := recs[2]
				forged.Actor = "mallory"
				forged.Link(forged.Seq, []byte("not the previous hash"))
				recs[2] = forged
				return recs
			},
		},
		{
			name: "forged with the right prev",
			tamper: func(recs []audit.Record) []audit.Record {
				// Its own link holds; the next record's does not.
				forged := recs[2]
				forged.Outcome = audit.Refused
				forged.Link(forged.Seq, recs[1].Hash)
				recs[2] = forged
				return recs
			},
		},
		{
			name: "appended after the head",
			tamper: func(recs []audit.Record) []audit.Record {
				extra := audit.Record{Actor: "mallory", Op: "vault.open", Outcome: audit.OK}
				extra.Link(n+1, recs[n-1].Hash)
				return append(recs, extra)
			},
		},
		{
			name:   "head behind the chain",
			tamper: func(recs []audit.Record) []audit.Record { return recs },
			head: func(recs []audit.Record) (uint64, []byte) {
				return n - 1, recs[n-2].Hash
			},
		},
		{
			name:   "head with the wrong hash",
			tamper: func(recs []audit.Record) []audit.Record { return recs },
			head: func(recs []audit.Record) (uint64, []byte) {
				return n, recs[n-2].Hash
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, seq, hash := newChain(t, n)
			if tc.head != nil {
				seq, hash = tc.head(recs)
			}
			tampered := tc.tamper(slices.Clone(recs))
			if err := verify(tampered, seq, hash); !errors.Is(err, audit.ErrBroken) {
				t.Errorf("verifying = %v; want ErrBroken", err)
			}
		})
	}
}

// edit returns a tamper function that changes the middle record with fn.
func edit(fn func(r *audit.Record)) func([]audit.Record) []audit.Record {
	return func(recs []audit.Record) []audit.Record {
		fn(&recs[2])
		return recs
	}
}

func TestVerifierReportsWhereChainBreaks(t *testing.T) {
	recs, _, _ := newChain(t, 5)
	recs[3].Detail = "changed"
	var v audit.Verifier
	for i, r := range recs {
		err := v.Add(r)
		if i < 3 && err != nil {
			t.Fatalf("Add(%d) = %v; want nil before the edited record", r.Seq, err)
		}
		if i == 3 {
			if !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("Add(%d) = %v; want ErrBroken", r.Seq, err)
			}
			break
		}
	}
	if got := v.Count(); got != 3 {
		t.Errorf("Count = %d; want 3, the records that held", got)
	}
}

func TestChainSurvivesJSON(t *testing.T) {
	// Records are stored as JSON; decoding them must not change what they
	// hash to, whatever their fields hold.
	times := []struct {
		name string
		time time.Time
	}{
		{name: "utc", time: base},
		{name: "offset zone", time: base.In(time.FixedZone("east", 5*3600+30*60))},
		{name: "local with monotonic clock", time: time.Now()},
		{name: "zero", time: time.Time{}},
	}
	for _, tc := range times {
		t.Run(tc.name, func(t *testing.T) {
			var prev []byte
			var stored [][]byte
			details := []string{"plain", `<script>&"quotes"`, "ünïcødé ✓", "\x00\x7f"}
			for i, detail := range details {
				r := audit.Record{
					Time:    tc.time,
					Actor:   "admin",
					Op:      "vault.open",
					Outcome: audit.OK,
					Detail:  detail,
				}
				r.Link(uint64(i+1), prev)
				prev = r.Hash
				b, err := json.Marshal(r)
				if err != nil {
					t.Fatalf("encoding: %v", err)
				}
				stored = append(stored, b)
			}

			var v audit.Verifier
			for _, b := range stored {
				var r audit.Record
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatalf("decoding: %v", err)
				}
				if err := v.Add(r); err != nil {
					t.Fatalf("Add after a JSON round trip: %v", err)
				}
			}
			if err := v.Finish(uint64(len(stored)), prev); err != nil {
				t.Errorf("Finish: %v", err)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	recs, _, _ := newChain(t, 2)
	r := recs[1]

	withoutHash := r
	withoutHash.Hash = nil
	if diff := cmp.Diff(r.Digest(), withoutHash.Digest()); diff != "" {
		t.Errorf("Digest depends on Hash (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(r.Digest(), r.Hash); diff != "" {
		t.Errorf("Digest differs from the hash Link set (-got +want):\n%s", diff)
	}
	if len(r.Hash) != 32 {
		t.Errorf("hash is %d bytes; want 32", len(r.Hash))
	}
	if cmp.Equal(recs[0].Hash, recs[1].Hash) {
		t.Error("two different records hash the same")
	}
	if diff := cmp.Diff(recs[1].Prev, recs[0].Hash); diff != "" {
		t.Errorf("Prev of record 2 (-got +want):\n%s", diff)
	}
}

// TestDigestIsOverEncodingJSON pins Digest to the SHA-256 of the record as
// encoding/json writes it, so that chains written before stay valid.
func TestDigestIsOverEncodingJSON(t *testing.T) {
	r := audit.Record{Seq: 7, Time: time.Date(2026, 12, 4, 10, 0, 0, 5, time.UTC), Actor: "agent:a1",
		Op: "job.result", Path: "f/t/a", Outcome: audit.OK, Detail: `changed "on" <target> é`,
		JobID: "j1", Prev: []byte{1, 2, 3}, Hash: []byte{9}}
	r.Hash = nil
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(b)
	r.Hash = []byte{9}
	if got := r.Digest(); !bytes.Equal(got, want[:]) {
		t.Errorf("Digest = %x, want %x", got, want)
	}
}
