package policy

import (
	"crypto/rand"
	"encoding/binary"
	"math"
)

// randIndex returns a uniformly random integer in [0, n) drawn from
// crypto/rand. It rejects the few draws at the top of the range that would
// favour small results, so there is no modulo bias. n must be positive.
func randIndex(n int) int {
	if n <= 0 {
		panic("policy: randIndex needs a positive bound")
	}
	m := uint64(n)
	// 2^64 mod m draws at the top of the range are thrown away, leaving a
	// multiple of m to map evenly onto [0, m).
	excess := (math.MaxUint64%m + 1) % m
	limit := math.MaxUint64 - excess
	var b [8]byte
	for {
		// Read never fails: since Go 1.24 a broken system source crashes
		// the program instead.
		_, _ = rand.Read(b[:])
		if x := binary.LittleEndian.Uint64(b[:]); x <= limit {
			return int(x % m)
		}
	}
}

// shuffle puts the bytes of b in a uniformly random order (Fisher-Yates).
func shuffle(b []byte) {
	for i := len(b) - 1; i > 0; i-- {
		j := randIndex(i + 1)
		b[i], b[j] = b[j], b[i]
	}
}
