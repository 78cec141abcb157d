package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestAfterPriorSeesEarlierWritesDurable has many writers register
// AfterPrior hooks: each must run once, after its write is applied and
// while every write numbered before it is durable, and never for a
// function that failed.
func TestAfterPriorSeesEarlierWritesDurable(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const writers, each = 8, 40
	var ran atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Appendf(nil, "p/%d/%d", w, i)
				var applied bool
				err := s.Update(func(tx *Tx) error {
					if err := tx.Put(key, i); err != nil {
						return err
					}
					tx.AfterPrior(func(err error) {
						ran.Add(1)
						if err != nil {
							t.Errorf("hook: %v", err)
						}
						s.dur.mu.Lock()
						durable := s.dur.durable
						s.dur.mu.Unlock()
						if durable < tx.seq-1 {
							t.Errorf("write %d's hook ran with only %d durable", tx.seq, durable)
						}
						var n int
						if err := s.Get(key, &n); err != nil || n != i {
							t.Errorf("hook of %s: the write is not applied: %d, %v", key, n, err)
						}
						applied = true
					})
					return nil
				})
				if err != nil || !applied {
					t.Errorf("update %s: %v, hook ran %v", key, err, applied)
				}
				failed := errors.New("refused")
				err = s.Update(func(tx *Tx) error {
					tx.AfterPrior(func(error) { t.Error("a hook ran for a write not applied") })
					return failed
				})
				if !errors.Is(err, failed) {
					t.Errorf("failing update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := ran.Load(); got != writers*each {
		t.Errorf("hooks ran %d times, want %d", got, writers*each)
	}
}

// TestDurabilityWaits checks the bookkeeping itself: syncs that end out
// of order, waiters released by a later write's sync, and a failed sync
// releasing every waiter with its error.
func TestDurabilityWaits(t *testing.T) {
	var d durability
	if err := d.wait(0); err != nil {
		t.Fatalf("wait(0) = %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- d.wait(3) }()
	waitFor(t, &d, 1)
	d.synced(2, nil)
	select {
	case err := <-got:
		t.Fatalf("wait(3) returned %v with write 2 durable", err)
	case <-time.After(20 * time.Millisecond):
	}
	d.synced(4, nil) // 4's sync covers 3
	if err := <-got; err != nil {
		t.Fatalf("wait(3) = %v", err)
	}
	d.synced(3, nil) // late, changes nothing
	if d.durable != 4 {
		t.Fatalf("durable = %d, want 4", d.durable)
	}

	go func() { got <- d.wait(6) }()
	waitFor(t, &d, 1)
	broken := errors.New("disk gone")
	d.synced(5, broken)
	if err := <-got; !errors.Is(err, broken) {
		t.Fatalf("wait(6) after a failed sync = %v", err)
	}
	if err := d.wait(7); !errors.Is(err, broken) {
		t.Fatalf("wait(7) after a failed sync = %v", err)
	}
	if err := d.wait(4); err != nil {
		t.Fatalf("wait(4), durable before the failure: %v", err)
	}
}

// waitFor waits until d has n waiters.
func waitFor(t *testing.T, d *durability, n int) {
	t.Helper()
	for range 1000 {
		d.mu.Lock()
		k := len(d.waiters)
		d.mu.Unlock()
		if k == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %d waiters", n)
}
