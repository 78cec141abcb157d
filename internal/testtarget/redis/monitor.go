package redis

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/logbuf"
)

// Monitor is a connection of AdminUser that runs MONITOR: the server
// sends it every command it runs, as it shows them to operators.
type Monitor struct {
	srv   *Server
	conn  net.Conn
	lines *logbuf.Buffer
	done  chan struct{}
}

// Monitor starts a MONITOR connection, waits until the server has begun
// sending it commands and closes it at cleanup.
//
// go-redis has no MONITOR that can be stopped while the server is silent,
// so the monitor speaks RESP itself: two commands out, lines back.
func (s *Server) Monitor(t testing.TB) *Monitor {
	t.Helper()
	conn, err := s.dial()
	if err != nil {
		t.Fatalf("connecting the monitor: %v", err)
	}
	m := &Monitor{srv: s, conn: conn, lines: &logbuf.Buffer{}, done: make(chan struct{})}
	t.Cleanup(m.close)

	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	for _, cmd := range [][]string{{"AUTH", AdminUser, s.AdminPassword}, {"MONITOR"}} {
		if _, err := conn.Write(encode(cmd)); err != nil {
			t.Fatalf("starting the monitor: %v", err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("starting the monitor: %q, %v", line, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	go m.read(r)
	return m
}

// dial connects to the server, with TLS when it serves TLS.
func (s *Server) dial() (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if cfg := s.tlsConfig(); cfg != nil {
		return tls.DialWithDialer(d, "tcp", s.Addr, cfg)
	}
	return d.Dial("tcp", s.Addr)
}

// String returns the commands the monitor has received, one a line.
func (m *Monitor) String() string { return m.lines.String() }

// Flush returns the commands the monitor has received once it has seen
// every command the server ran before the call: it runs an ECHO of a
// fresh marker and waits until the marker arrives.
func (m *Monitor) Flush(t testing.TB) string {
	t.Helper()
	marker := UserName(t)
	if _, err := m.srv.admin(t, "ECHO", marker); err != nil {
		t.Fatalf("echoing a marker to the monitor: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(m.String(), marker) {
		if time.Now().After(deadline) {
			t.Fatal("the monitor did not see the marker in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m.String()
}

func (m *Monitor) read(r *bufio.Reader) {
	defer close(m.done)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = m.lines.Write([]byte(strings.TrimPrefix(line, "+")))
	}
}

func (m *Monitor) close() {
	_ = m.conn.Close()
	<-m.done
}

// encode returns args as a RESP array of bulk strings.
func encode(args []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}
