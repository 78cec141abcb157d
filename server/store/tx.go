package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	json "github.com/go-json-experiment/json/v1"

	"github.com/passman-dev/passman/server/audit"
)

// maxAttempts bounds how often Update reruns a function whose reads were
// changed by a concurrent write.
const maxAttempts = 100

// ErrConflict is returned when an Update kept losing to concurrent writes.
var ErrConflict = errors.New("too many concurrent writes to the same records")

// Tx is a write in progress, with optimistic concurrency: its function
// reads the committed state without holding the writer's lock and stages
// its writes, and Update commits them only if nothing it read has changed
// meanwhile, or runs the function again. Its reads see its own writes.
type Tx struct {
	s *Store
	// since is the number of the last write applied when the Tx began:
	// every read it makes sees that write and those before it.
	since uint64
	// writes are the staged writes by key; a nil value is a deletion.
	writes map[string][]byte
	order  []string
	// decoded holds, for the staged writes of cached tables, a copy of the
	// record Put encoded, for the read cache once the write is applied.
	decoded map[string]any
	// reads are the committed values the function saw, nil for absent.
	reads   map[string][]byte
	scans   []scanRead
	audits  []audit.Record
	onApply []func()
	// afterPrior runs once the write is applied and those before it are
	// durable.
	afterPrior []func(error)
	onCommit   []func()
	// seq is the write's number once applied.
	seq uint64
}

// scanRead is what a Scan saw of the committed state under a prefix.
type scanRead struct {
	prefix []byte
	kvs    [][2][]byte
}

// OnCommit registers fn to run once the write is durable, for effects
// outside the store that must not happen unless it commits.
func (tx *Tx) OnCommit(fn func()) { tx.onCommit = append(tx.onCommit, fn) }

// OnApply registers fn to run once the write is applied and readers see
// it, while it is being synced, for effects that may start before it is
// durable: those that matter only once a later synced write has confirmed
// them, since a sync makes every write before it durable too. When the
// sync fails, fn has run all the same.
func (tx *Tx) OnApply(fn func()) { tx.onApply = append(tx.onApply, fn) }

// AfterPrior registers fn to run once the write is applied and every
// write applied before it is durable, before the write's own sync has
// ended: a crash may still lose this write, never one before it. fn gets
// the error of a sync that failed meanwhile. It runs before Update
// returns, and not at all when the write is not applied.
func (tx *Tx) AfterPrior(fn func(error)) { tx.afterPrior = append(tx.afterPrior, fn) }

// raw returns the value at key as the transaction sees it.
func (tx *Tx) raw(key []byte) ([]byte, error) {
	if v, ok := tx.writes[string(key)]; ok {
		return v, nil
	}
	if v, ok := tx.reads[string(key)]; ok {
		return v, nil
	}
	v, err := tx.s.rawGet(key)
	if err != nil {
		return nil, err
	}
	tx.reads[string(key)] = v
	return v, nil
}

// Get decodes the record at key, as staged so far, into v.
func (tx *Tx) Get(key []byte, v any) error {
	b, err := tx.raw(key)
	if err != nil {
		return err
	}
	if b == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %w", key, err)
	}
	return nil
}

// Has reports whether key holds a record, as staged so far.
func (tx *Tx) Has(key []byte) (bool, error) {
	b, err := tx.raw(key)
	return b != nil, err
}

// Scan is Store.Scan over the committed state with the staged writes laid
// over it.
func (tx *Tx) Scan(prefix []byte, fn func(key, value []byte) error) error {
	seen, err := tx.s.scanAll(prefix)
	if err != nil {
		return err
	}
	tx.scans = append(tx.scans, scanRead{prefix: bytes.Clone(prefix), kvs: seen})
	merged := map[string][]byte{}
	for _, kv := range seen {
		merged[string(kv[0])] = kv[1]
	}
	for k, v := range tx.writes {
		if strings.HasPrefix(k, string(prefix)) {
			merged[k] = v
		}
	}
	keys := make([]string, 0, len(merged))
	for k, v := range merged {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), merged[k]); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Put stages v, encoded as JSON, at key. When v is a pointer, a record of
// a cached table goes to the read cache as the write is applied: nobody
// may change its maps and slices afterwards, as for every record read
// from the store.
func (tx *Tx) Put(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	tx.stage(key, b)
	if cacheable(key) {
		if cp := shallowCopy(v); cp != nil {
			if tx.decoded == nil {
				tx.decoded = map[string]any{}
			}
			tx.decoded[string(key)] = cp
		}
	}
	return nil
}

// PutRaw stages the bytes b at key.
func (tx *Tx) PutRaw(key, b []byte) error {
	if b == nil {
		b = []byte{}
	}
	tx.stage(key, bytes.Clone(b))
	return nil
}

// Delete stages the removal of key.
func (tx *Tx) Delete(key []byte) error {
	tx.stage(key, nil)
	return nil
}

func (tx *Tx) stage(key, v []byte) {
	k := string(key)
	if _, ok := tx.writes[k]; !ok {
		tx.order = append(tx.order, k)
	}
	tx.writes[k] = v
	delete(tx.decoded, k)
}

// Audit stages an audit record; Update links it into the chain.
func (tx *Tx) Audit(r audit.Record) { tx.audits = append(tx.audits, r) }

// valid reports whether everything tx read is still as it read it. The
// caller holds the writer's lock.
func (tx *Tx) valid() (bool, error) {
	for k := range tx.reads {
		if tx.s.stamps.changedSince(k, tx.since) {
			return false, nil
		}
	}
	for _, sr := range tx.scans {
		got, err := tx.s.scanAll(sr.prefix)
		if err != nil {
			return false, err
		}
		if !slices.EqualFunc(got, sr.kvs, func(a, b [2][]byte) bool {
			return bytes.Equal(a[0], b[0]) && bytes.Equal(a[1], b[1])
		}) {
			return false, nil
		}
	}
	return true, nil
}

// Update runs fn in a new Tx and, if fn returns nil, commits what it staged
// in one synced write. fn may run more than once, when a concurrent write
// changed what it read: it must have no effect outside the Tx but through
// OnCommit. Update returns once the write is durable.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.writing.Add(1)
	defer s.writing.Add(-1)
	for range maxAttempts {
		tx := &Tx{s: s, since: s.stamps.last.Load(), writes: map[string][]byte{},
			reads: map[string][]byte{}}
		if err := fn(tx); err != nil {
			return err
		}
		b := s.db.NewBatch()
		committed, err := s.commit(tx, b)
		if err != nil || !committed {
			b.Close()
			if err != nil {
				return err
			}
			continue
		}
		for _, f := range tx.onApply {
			f()
		}
		if len(tx.afterPrior) > 0 {
			err := s.dur.wait(tx.seq - 1)
			for _, f := range tx.afterPrior {
				f(err)
			}
		}
		err = b.SyncWait()
		b.Close()
		s.dur.synced(tx.seq, err)
		if err != nil {
			return fmt.Errorf("syncing: %w", err)
		}
		for _, f := range tx.onCommit {
			f()
		}
		return nil
	}
	return ErrConflict
}

// commit validates tx and applies its writes to b under the writer's lock.
// It reports false when tx must run again.
func (s *Store) commit(tx *Tx, b *pebble.Batch) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := tx.valid()
	if err != nil || !ok {
		return false, err
	}
	for _, k := range tx.order {
		v := tx.writes[k]
		if v == nil {
			err = b.Delete([]byte(k), nil)
		} else {
			err = b.Set([]byte(k), v, nil)
		}
		if err != nil {
			return false, err
		}
	}
	return true, s.applyLocked(tx, b)
}

// applyLocked links tx's audit records and applies b. The batch is applied
// in the order the lock gives and synced by the caller outside it, so that
// many Updates share one fsync.
func (s *Store) applyLocked(tx *Tx, b *pebble.Batch) error {
	head, err := s.linkAudits(tx, b)
	if err == nil {
		s.cache.beginWrite()
		err = s.db.ApplyNoSyncWait(b, pebble.Sync)
		if err == nil {
			s.stamps.stamp(tx.order)
			tx.seq = s.stamps.last.Load()
		}
		s.cache.endWrite(tx.order, tx.decoded)
	}
	if err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	s.head = head
	return nil
}

// linkAudits chains tx's audit records after the current head and puts
// them in b with the new head. It returns the new head.
func (s *Store) linkAudits(tx *Tx, b *pebble.Batch) (auditHead, error) {
	head := s.head
	if len(tx.audits) == 0 {
		return head, nil
	}
	for _, r := range tx.audits {
		if r.Time.IsZero() {
			r.Time = time.Now().UTC()
		}
		r.Link(head.Seq+1, head.Hash)
		enc, err := json.Marshal(r)
		if err != nil {
			return head, err
		}
		if err := b.Set(AuditKey(r.Seq), enc, nil); err != nil {
			return head, err
		}
		head = auditHead{Seq: r.Seq, Hash: r.Hash}
	}
	enc, err := json.Marshal(head)
	if err != nil {
		return head, err
	}
	return head, b.Set(keyAuditHead, enc, nil)
}

// AppendAudit writes audit records on their own, for requests that changed
// nothing else, and returns once they are durable.
func (s *Store) AppendAudit(records ...audit.Record) error {
	s.writing.Add(1)
	defer s.writing.Add(-1)
	b := s.db.NewBatch()
	defer b.Close()
	tx := &Tx{s: s, audits: records}
	s.mu.Lock()
	err := s.applyLocked(tx, b)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	err = b.SyncWait()
	s.dur.synced(tx.seq, err)
	if err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	return nil
}

// rawGet returns a copy of the committed value at key, or nil when there is
// none.
func (s *Store) rawGet(key []byte) ([]byte, error) {
	v, c, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	defer c.Close()
	return append([]byte{}, v...), nil
}

// scanAll returns copies of the committed keys and values under prefix.
func (s *Store) scanAll(prefix []byte) ([][2][]byte, error) {
	var out [][2][]byte
	err := scan(s.db, prefix, nil, func(k, v []byte) error {
		out = append(out, [2][]byte{bytes.Clone(k), append([]byte{}, v...)})
		return nil
	})
	return out, err
}
