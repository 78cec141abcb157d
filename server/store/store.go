// Package store keeps PassMan's records in a Pebble database on disk.
//
// The store has one writer at a time: Update runs a function that reads and
// stages writes in an indexed batch, links any audit records into the hash
// chain, and commits the batch with a synced write. Concurrent Updates share
// their WAL syncs (group commit), so the cost of durability is paid once for
// many requests. Records are JSON, written and read with the v1 API of
// go-json-experiment, byte for byte what encoding/json writes and reads,
// in half the time. The key layout is described in keys.go.
//
// A write is visible to readers as soon as it is applied and before its sync
// completes. Every request that answers a client writes an audit record
// after its reads and waits for that record's sync; as the WAL is written in
// order, no answer can reveal a write that is not yet durable.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	json "github.com/go-json-experiment/json/v1"
	"github.com/hashicorp/go-hclog"
)

var (
	// ErrNotFound is returned when a key has no record.
	ErrNotFound = errors.New("not found")
)

// Store is an open PassMan database.
type Store struct {
	db  *pebble.DB
	log hclog.Logger

	// mu makes Update the only writer and guards head.
	mu   sync.Mutex
	head auditHead

	cache  *readCache
	stamps *writeStamps
	dur    durability
	// writing counts the Updates and audit appends under way.
	writing atomic.Int64
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash"`
}

// walMinSyncInterval spaces the WAL's fsyncs while the store is busy.
// Every Update still waits for the sync that covers it; the interval only
// lets more of them share one. On a two-core machine with a virtual disk
// whose fsync sometimes stalls for milliseconds, 200µs took 64 clients'
// checkouts from 9,000 to 10,800 per second and their p99 from 24ms to
// 15ms (passman-bench). Writes that come one or two at a time gain
// nothing from it and would only wait: see Store.syncSpacing.
const walMinSyncInterval = 200 * time.Microsecond

// memTableSize is the size of Pebble's memtables. A job's record is
// written at each of its steps and an account's at each of its changes;
// within one memtable only the last write of a key reaches the disk, so a
// large one spares flushes and compactions most of those bytes. Pebble
// holds two at most before it stalls writes.
const memTableSize = 64 << 20

// cacheSize is Pebble's block cache. The model is small next to it, so
// reads are served from memory.
const cacheSize = 128 << 20

// busyWrites is how many writes under way make the store busy.
const busyWrites = 3

// syncSpacing is the WAL's wait after a sync before the next, asked for
// as each sync ends: walMinSyncInterval while the store is busy, so that
// the writes coming meanwhile share the next sync, and none otherwise,
// when the next write would only wait.
func (s *Store) syncSpacing() time.Duration {
	if s.writing.Load() >= busyWrites {
		return walMinSyncInterval
	}
	return 0
}

// Open opens or creates the database in dir.
func Open(dir string, log hclog.Logger) (*Store, error) {
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref()
	s := &Store{log: log, cache: newReadCache(), stamps: newWriteStamps()}
	opts := &pebble.Options{
		Cache:              cache,
		Logger:             pebbleLogger{log.Named("pebble")},
		FormatMajorVersion: pebble.FormatNewest,
		WALMinSyncInterval: s.syncSpacing,
		MemTableSize:       memTableSize,
	}
	// Bloom filters on every level: permission checks look up grants that
	// mostly do not exist, and a filter answers those without a block read.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("opening pebble in %s: %w", dir, err)
	}
	s.db = db
	if err := s.Get(keyAuditHead, &s.head); err != nil && !errors.Is(err, ErrNotFound) {
		_ = db.Close()
		return nil, fmt.Errorf("reading audit head: %w", err)
	}
	return s, nil
}

// Close closes the database. Updates in flight must have returned.
func (s *Store) Close() error {
	return s.db.Close()
}

// Get decodes the record at key into v, which must be a pointer. Records
// read here may share maps and slices with later reads: treat them as
// read-only, and read what is to be changed through a Tx.
func (s *Store) Get(key []byte, v any) error {
	if hit, found := s.cache.get(key, v); hit {
		if !found {
			return ErrNotFound
		}
		return nil
	}
	gen := s.cache.generation()
	b, c, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		s.cache.fill(gen, key, reflect.TypeOf(v), nil)
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	defer c.Close()
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %w", key, err)
	}
	s.cache.fill(gen, key, reflect.TypeOf(v), v)
	return nil
}

// Has reports whether key holds a record.
func (s *Store) Has(key []byte) (bool, error) {
	return has(s.db, key)
}

type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func has(r reader, key []byte) (bool, error) {
	_, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", key, err)
	}
	c.Close()
	return true, nil
}

// Scan calls fn with each key and value under prefix in key order, until fn
// returns an error or ErrStop. The slices are valid only during the call.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return scan(s.db, prefix, nil, fn)
}

// ScanFrom is Scan starting at the first key at or after start.
func (s *Store) ScanFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	return scan(s.db, prefix, start, fn)
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("stop scan")

type iterable interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func scan(r iterable, prefix, start []byte, fn func(key, value []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: prefix,
		UpperBound: prefixEnd(prefix),
	})
	if err != nil {
		return fmt.Errorf("scanning %s: %w", prefix, err)
	}
	defer it.Close()
	ok := it.First()
	if start != nil {
		ok = it.SeekGE(start)
	}
	for ; ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("scanning %s: %w", prefix, err)
		}
		if err := fn(it.Key(), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return it.Error()
}

// prefixEnd returns the smallest key greater than every key with prefix.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ScanJSON decodes each record under prefix into a T and calls fn with it.
func ScanJSON[T any](s *Store, prefix []byte, fn func(*T) error) error {
	return s.Scan(prefix, func(key, value []byte) error {
		v := new(T)
		if err := json.Unmarshal(value, v); err != nil {
			return fmt.Errorf("decoding %s: %w", key, err)
		}
		return fn(v)
	})
}

// AuditHead returns the sequence number and hash of the last audit record.
func (s *Store) AuditHead() (uint64, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head.Seq, bytes.Clone(s.head.Hash)
}

// Dump returns every key and value except those under the given prefixes.
// Tests use it to show that a refused request changed nothing.
func (s *Store) Dump(except ...[]byte) (map[string]string, error) {
	out := map[string]string{}
	err := s.Scan(nil, func(k, v []byte) error {
		for _, p := range except {
			if bytes.HasPrefix(k, p) {
				return nil
			}
		}
		out[string(k)] = string(v)
		return nil
	})
	return out, err
}

// pebbleLogger sends Pebble's messages to an hclog logger.
type pebbleLogger struct{ log hclog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
