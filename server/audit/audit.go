// Package audit defines PassMan's audit record and the hash chain that makes
// the trail tamper-evident.
//
// Each record carries the hash of the one before it, and its own hash covers
// every field and that link. Editing, removing or reordering any record
// breaks the chain from that point on, which Verify reports. Records never
// hold a secret: callers put names, paths and codes in them, never values.
package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	json "github.com/go-json-experiment/json/v1"
)

// Outcomes of an audited request.
const (
	OK      = "ok"
	Refused = "refused"
	Failed  = "failed"
)

// Record is one entry of the audit trail.
type Record struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Op      string    `json:"op"`
	Path    string    `json:"path,omitempty"`
	Outcome string    `json:"outcome"`
	Code    string    `json:"code,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	JobID   string    `json:"job_id,omitempty"`
	Prev    []byte    `json:"prev"`
	Hash    []byte    `json:"hash"`
}

var (
	// ErrBroken is returned by Verify when the chain does not hold.
	ErrBroken = errors.New("audit chain broken")
)

// Digest returns the hash of r: SHA-256 over its JSON encoding with Hash
// left empty. Prev is part of what is hashed, which links the chain.
func (r Record) Digest() []byte {
	r.Hash = nil
	b, err := json.Marshal(r)
	if err != nil {
		// Every field of Record marshals; this cannot happen.
		panic(fmt.Sprintf("audit: encoding record: %v", err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// Link sets r's sequence number and previous hash from the head of the
// chain, and then its own hash.
func (r *Record) Link(seq uint64, prev []byte) {
	r.Seq = seq
	r.Prev = prev
	r.Hash = r.Digest()
}

// Verifier checks records one at a time, in the order they are stored.
type Verifier struct {
	n    uint64
	prev []byte
}

// Add checks the next record against the chain so far.
func (v *Verifier) Add(r Record) error {
	want := v.n + 1
	if r.Seq != want {
		return fmt.Errorf("%w: record %d found where %d was expected "+
			"(a record was removed or reordered)", ErrBroken, r.Seq, want)
	}
	if !bytes.Equal(r.Prev, v.prev) {
		return fmt.Errorf("%w: record %d does not link to record %d",
			ErrBroken, r.Seq, v.n)
	}
	if !bytes.Equal(r.Hash, r.Digest()) {
		return fmt.Errorf("%w: record %d was edited", ErrBroken, r.Seq)
	}
	v.n, v.prev = r.Seq, r.Hash
	return nil
}

// Finish checks that the chain ends at the head the store recorded, which
// catches records cut from the end.
func (v *Verifier) Finish(headSeq uint64, headHash []byte) error {
	if v.n != headSeq || !bytes.Equal(v.prev, headHash) {
		return fmt.Errorf("%w: chain ends at record %d but the head is record %d",
			ErrBroken, v.n, headSeq)
	}
	return nil
}

// Count returns how many records have been verified.
func (v *Verifier) Count() uint64 { return v.n }
