// Package netx gives driver tests the two network peers no real target
// provides on demand: a listener that accepts connections and never
// answers, and a port where nothing listens.
package netx

import (
	"net"
	"sync"
	"testing"
)

// Silent returns the address of a loopback listener that accepts every
// connection and never sends a byte, for timeout tests. The listener and
// its connections close at the end of the test.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().String()
}

// ClosedPort returns a loopback address where nothing listens: a port that
// was free a moment ago.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
