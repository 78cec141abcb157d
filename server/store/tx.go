package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/passman-dev/passman/server/audit"
)

// Tx is a write in progress. Its reads see its own staged writes.
type Tx struct {
	b        *pebble.Batch
	audits   []audit.Record
	onCommit []func()
	written  []string
}

// OnCommit registers fn to run once the write is durable, for effects
// outside the store that must not happen unless it commits.
func (tx *Tx) OnCommit(fn func()) { tx.onCommit = append(tx.onCommit, fn) }

// Get decodes the record at key, as staged so far, into v.
func (tx *Tx) Get(key []byte, v any) error { return getJSON(tx.b, key, v) }

// Has reports whether key holds a record, as staged so far.
func (tx *Tx) Has(key []byte) (bool, error) { return has(tx.b, key) }

// Scan is Store.Scan over the staged state.
func (tx *Tx) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return scan(tx.b, prefix, nil, fn)
}

// Put stages v, encoded as JSON, at key.
func (tx *Tx) Put(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	return tx.PutRaw(key, b)
}

// PutRaw stages the bytes b at key.
func (tx *Tx) PutRaw(key, b []byte) error {
	tx.written = append(tx.written, string(key))
	return tx.b.Set(key, b, nil)
}

// Delete stages the removal of key.
func (tx *Tx) Delete(key []byte) error {
	tx.written = append(tx.written, string(key))
	return tx.b.Delete(key, nil)
}

// Audit stages an audit record; Update links it into the chain.
func (tx *Tx) Audit(r audit.Record) { tx.audits = append(tx.audits, r) }

// Update runs fn in a new Tx and, if fn returns nil, commits what it staged
// in one synced write. Update returns once the write is durable.
func (s *Store) Update(fn func(tx *Tx) error) error {
	b := s.db.NewIndexedBatch()
	defer b.Close()

	tx := &Tx{b: b}
	if err := s.apply(tx, fn); err != nil {
		return err
	}
	if err := b.SyncWait(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

// apply runs fn and applies its batch under the writer's lock. The batch
// is applied in the order the lock gives and synced by the caller outside
// it, so that many Updates share one fsync.
func (s *Store) apply(tx *Tx, fn func(tx *Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(tx); err != nil {
		return err
	}
	head, err := s.linkAudits(tx)
	if err == nil {
		s.cache.beginWrite()
		err = s.db.ApplyNoSyncWait(tx.b, pebble.Sync)
		s.cache.endWrite(tx.written)
	}
	if err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	s.head = head
	return nil
}

// linkAudits chains tx's audit records after the current head and stages
// them with the new head. It returns the new head.
func (s *Store) linkAudits(tx *Tx) (auditHead, error) {
	head := s.head
	if len(tx.audits) == 0 {
		return head, nil
	}
	for _, r := range tx.audits {
		if r.Time.IsZero() {
			r.Time = time.Now().UTC()
		}
		r.Link(head.Seq+1, head.Hash)
		if err := tx.Put(AuditKey(r.Seq), r); err != nil {
			return head, err
		}
		head = auditHead{Seq: r.Seq, Hash: r.Hash}
	}
	return head, tx.Put(keyAuditHead, head)
}

// AppendAudit writes audit records on their own, for requests that changed
// nothing else, and returns once they are durable. It skips the indexed
// batch that Update builds for reads.
func (s *Store) AppendAudit(records ...audit.Record) error {
	b := s.db.NewBatch()
	defer b.Close()
	tx := &Tx{b: b, audits: records}
	if err := s.apply(tx, func(*Tx) error { return nil }); err != nil {
		return err
	}
	if err := b.SyncWait(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	return nil
}
