package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// TestConcurrentUpdatesLoseNothing has many writers increment one counter:
// each Update reads it without the writer's lock, so a lost update would
// show as a final count below the number of increments.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key := []byte("p/counter")
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.Update(func(tx *Tx) error {
					var n int
					if err := tx.Get(key, &n); err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					return tx.Put(key, n+1)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var n int
	if err := s.Get(key, &n); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("counter = %d, want %d", n, writers*each)
	}
}

// TestScanConflictReruns checks that a write under a prefix a Tx scanned
// makes the Tx run again, so that a count it made is never stale.
func TestScanConflictReruns(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	runs := 0
	err = s.Update(func(tx *Tx) error {
		runs++
		n := 0
		if err := tx.Scan([]byte("c/x/"), func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		if runs == 1 {
			// A concurrent writer adds a child between the scan and the commit.
			if err := s.Update(func(tx2 *Tx) error { return tx2.Put([]byte("c/x/b"), "id") }); err != nil {
				return err
			}
		}
		return tx.Put([]byte("p/children"), n)
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Get([]byte("p/children"), &n); err != nil {
		t.Fatal(err)
	}
	if runs != 2 || n != 1 {
		t.Fatalf("runs = %d, count = %d; want 2 runs and a count of 1", runs, n)
	}
}

// TestReadConflictReruns checks which concurrent writes make a Tx run
// again: a write of a record it read, or the creation of one it found
// absent, does; a write of a record it did not read does not.
func TestReadConflictReruns(t *testing.T) {
	read := []byte("p/read")
	tests := []struct {
		name     string
		existing bool
		written  func(s *Store) []byte
		runs     int
	}{
		{"a record it read is written", true, func(*Store) []byte { return read }, 2},
		{"a record it found absent is created", false, func(*Store) []byte { return read }, 2},
		{"a record it did not read is written", true, func(s *Store) []byte {
			// A key in another slot, so that the test does not hang on
			// the one chance in stampSlots of sharing one.
			for i := 0; ; i++ {
				k := fmt.Sprintf("p/other-%d", i)
				if s.stamps.slot(k) != s.stamps.slot(string(read)) {
					return []byte(k)
				}
			}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if tt.existing {
				if err := s.Update(func(tx *Tx) error { return tx.Put(read, 1) }); err != nil {
					t.Fatal(err)
				}
			}
			runs := 0
			err = s.Update(func(tx *Tx) error {
				runs++
				var n int
				if err := tx.Get(read, &n); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
				if runs == 1 {
					w := tt.written(s)
					if err := s.Update(func(tx2 *Tx) error { return tx2.Put(w, 7) }); err != nil {
						return err
					}
				}
				return tx.Put([]byte("p/result"), n)
			})
			if err != nil {
				t.Fatal(err)
			}
			if runs != tt.runs {
				t.Fatalf("the Tx ran %d times, want %d", runs, tt.runs)
			}
		})
	}
}

// TestHooksRunOnceForTheRunThatCommits checks that OnApply and OnCommit
// run once, in that order, for the run of a Tx that commits, none of a run
// that ran again or failed, and that OnApply sees the write applied.
func TestHooksRunOnceForTheRunThatCommits(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key := []byte("p/hooked")
	var calls []string
	runs := 0
	err = s.Update(func(tx *Tx) error {
		runs++
		run := fmt.Sprint(runs)
		var n int
		if err := tx.Get(key, &n); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if runs == 1 {
			// A concurrent write of what this run read: it runs again.
			if err := s.Update(func(tx2 *Tx) error { return tx2.Put(key, 7) }); err != nil {
				return err
			}
		}
		tx.OnApply(func() {
			var seen int
			if err := s.Get(key, &seen); err != nil || seen != n+1 {
				t.Errorf("OnApply read %d (%v), want the applied %d", seen, err, n+1)
			}
			calls = append(calls, "apply-"+run)
		})
		tx.OnCommit(func() { calls = append(calls, "commit-"+run) })
		return tx.Put(key, n+1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(calls, []string{"apply-2", "commit-2"}); diff != "" {
		t.Errorf("hooks (-got +want):\n%s", diff)
	}

	calls = nil
	failed := errors.New("refused")
	err = s.Update(func(tx *Tx) error {
		tx.OnApply(func() { calls = append(calls, "apply") })
		tx.OnCommit(func() { calls = append(calls, "commit") })
		return failed
	})
	if !errors.Is(err, failed) || len(calls) != 0 {
		t.Errorf("a failed Tx: error %v, hooks %v; want %v and none", err, calls, failed)
	}
}

// TestSyncSpacing checks that the WAL spaces its syncs only while enough
// writes are under way to share them.
func TestSyncSpacing(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, tc := range []struct {
		name    string
		writing int64
		want    time.Duration
	}{
		{"idle", 0, 0},
		{"one write", 1, 0},
		{"a write and the one before it, still syncing", busyWrites - 1, 0},
		{"busy", busyWrites, walMinSyncInterval},
		{"very busy", 64, walMinSyncInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.writing.Store(tc.writing)
			defer s.writing.Store(0)
			if got := s.syncSpacing(); got != tc.want {
				t.Errorf("spacing with %d writes under way = %v, want %v", tc.writing, got, tc.want)
			}
		})
	}
}
