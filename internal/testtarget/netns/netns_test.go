package netns_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/testtarget/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root to create network namespaces")
	}
	t.Fatal("needs root to create network namespaces")
}

// listenIn starts a TCP server inside ns that writes "hello" to each
// connection, and returns its address.
func listenIn(t *testing.T, ns *netns.NS, addr string) string {
	t.Helper()
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listening inside %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello")
			c.Close()
		}
	}()
	return l.Addr().String()
}

func greet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestLoopbackIsPrivate(t *testing.T) {
	requireRoot(t)
	ns := netns.New(t)
	addr := listenIn(t, ns, "127.0.0.1:0")

	if _, err := greet(addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dialling %s from the root namespace: %v, want connection refused", addr, err)
	}
	var got string
	err := ns.Do(func() (err error) {
		got, err = greet(addr)
		return err
	})
	if err != nil || got != "hello" {
		t.Errorf("dialling %s inside the namespace: %q, %v", addr, got, err)
	}
}

func TestCommand(t *testing.T) {
	requireRoot(t)
	ns := netns.New(t)
	out := string(ns.Run(t, "ip", "-o", "link", "show"))
	if !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
		t.Errorf("links inside the namespace:\n%s\nwant lo up", out)
	}
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 1 {
		t.Errorf("namespace has %d links, want only lo", n)
	}
}

func TestLink(t *testing.T) {
	requireRoot(t)
	ns := netns.New(t)
	v := ns.Link(t)
	if !netip.MustParsePrefix("10.213.0.0/16").Contains(v.NSAddr) || v.HostAddr.Next() != v.NSAddr {
		t.Fatalf("veth addresses %v and %v, want neighbours in 10.213.0.0/16", v.HostAddr, v.NSAddr)
	}
	addr := listenIn(t, ns, netip.AddrPortFrom(v.NSAddr, 0).String())

	got, err := greet(addr)
	if err != nil || got != "hello" {
		t.Errorf("dialling %s over the veth pair: %q, %v", addr, got, err)
	}
}

func TestDeletedAtCleanup(t *testing.T) {
	requireRoot(t)
	var name string
	t.Run("make", func(t *testing.T) { name = netns.New(t).Name })
	if _, err := os.Stat("/run/netns/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s still exists after its test: %v", name, err)
	}
}
