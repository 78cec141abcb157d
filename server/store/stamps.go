package store

import (
	"hash/maphash"
	"sync/atomic"
)

// stampSlots is how many slots the write stamps spread keys over. Two
// keys that share a slot only make a Tx that read one of them run again
// after a write of the other.
const stampSlots = 1 << 14

// writeStamps tell a Tx, when it commits, whether a write was applied to
// a key it read since it began, without reading the key again. Every
// applied write has a number, one more than the last; each slot holds the
// number of the last write of a key that falls in it.
type writeStamps struct {
	seed maphash.Seed
	// last is the number of the last write applied: every write up to it
	// is visible to reads. It moves on only after a write is applied.
	last atomic.Uint64
	// slots are guarded by Store.mu.
	slots []uint64
}

func newWriteStamps() *writeStamps {
	return &writeStamps{seed: maphash.MakeSeed(), slots: make([]uint64, stampSlots)}
}

func (w *writeStamps) slot(key string) int {
	return int(maphash.String(w.seed, key) & (stampSlots - 1))
}

// stamp records an applied write of keys: those a Tx staged. The audit
// records and head that the write links in are not among them; no Tx
// reads those, and a scan of them is checked by scanning again.
// Store.mu must be held.
func (w *writeStamps) stamp(keys []string) {
	n := w.last.Load() + 1
	for _, k := range keys {
		w.slots[w.slot(k)] = n
	}
	w.last.Store(n)
}

// changedSince reports whether a write numbered after since may have
// changed key. Store.mu must be held.
func (w *writeStamps) changedSince(key string, since uint64) bool {
	return w.slots[w.slot(key)] > since
}
