package store

import "sync"

// durability follows which applied writes are durable. Writes are
// numbered as they are applied, in the order the writer's lock gives, and
// the WAL syncs them in that order: once the sync that covers one write
// has ended, every write numbered before it is durable too.
type durability struct {
	mu      sync.Mutex
	durable uint64
	// broken is the error of a sync that failed: past it, nothing is
	// known to become durable.
	broken  error
	waiters []durableWaiter
}

type durableWaiter struct {
	n    uint64
	done chan error
}

// synced records that the sync covering write n ended, with err when it
// failed, and wakes those waiting for it or for a write before it.
func (d *durability) synced(n uint64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil && d.broken == nil {
		d.broken = err
	}
	if err == nil && n > d.durable {
		d.durable = n
	}
	kept := d.waiters[:0]
	for _, w := range d.waiters {
		switch {
		case w.n <= d.durable:
			w.done <- nil
		case d.broken != nil:
			w.done <- d.broken
		default:
			kept = append(kept, w)
		}
	}
	clear(d.waiters[len(kept):])
	d.waiters = kept
}

// wait returns once every write up to n is durable, or with the error of
// a sync that failed first.
func (d *durability) wait(n uint64) error {
	d.mu.Lock()
	if n <= d.durable {
		d.mu.Unlock()
		return nil
	}
	if d.broken != nil {
		d.mu.Unlock()
		return d.broken
	}
	done := make(chan error, 1)
	d.waiters = append(d.waiters, durableWaiter{n: n, done: done})
	d.mu.Unlock()
	return <-done
}
