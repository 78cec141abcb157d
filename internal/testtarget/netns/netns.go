// Package netns gives tests their own Linux network namespaces, so that a
// target can live where only the processes put beside it can reach it.
//
// A namespace made by New has its loopback up and nothing else; Link adds
// a veth pair that joins it to the root namespace over a /30 in
// 10.213.0.0/16. Command runs a program inside, and Do runs Go code
// inside on a thread of its own. Everything is removed at test cleanup.
// The helpers need root and the ip command (package iproute2).
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// NS is a network namespace made for one test.
type NS struct {
	// Name is the namespace's name, as ip netns list shows it.
	Name string
}

// Veth is a veth pair joining a namespace to the root namespace.
type Veth struct {
	// HostAddr is the address of the end in the root namespace.
	HostAddr netip.Addr
	// NSAddr is the address of the end inside the namespace.
	NSAddr netip.Addr
}

// New creates a network namespace with a unique name, brings its loopback
// up and deletes it when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	requireIP(t)
	n := &NS{Name: "pmt" + randomHex(t, 4)}
	run(t, "ip", "netns", "add", n.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.Name).CombinedOutput(); err != nil {
			t.Errorf("deleting network namespace %s: %v: %s", n.Name, err, out)
		}
	})
	run(t, "ip", "-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Command returns a command that runs name with args inside the namespace.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	args = append([]string{"netns", "exec", n.Name, name}, args...)
	return exec.CommandContext(ctx, "ip", args...)
}

// Run runs name with args inside the namespace and returns its combined
// output, failing the test when the command fails.
func (n *NS) Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := n.Command(t.Context(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("running %s in %s: %v: %s", name, n.Name, err, out)
	}
	return out
}

// Link creates a veth pair with one end in the root namespace and the
// other inside n, addressed from a free /30 of 10.213.0.0/16. The pair
// goes away with the namespace.
func (n *NS) Link(t testing.TB) Veth {
	t.Helper()
	subnet := freeSubnet(t)
	v := Veth{HostAddr: subnet.Next(), NSAddr: subnet.Next().Next()}
	host, peer := "pmv"+randomHex(t, 4), "pmv"+randomHex(t, 4)
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", peer, "netns", n.Name)
	run(t, "ip", "addr", "add", v.HostAddr.String()+"/30", "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "-n", n.Name, "addr", "add", v.NSAddr.String()+"/30", "dev", peer)
	run(t, "ip", "-n", n.Name, "link", "set", peer, "up")
	return v
}

// Do runs f with the calling goroutine's thread switched into the
// namespace, so that the sockets f opens belong to it. Other goroutines
// are not affected. f must not start goroutines that open sockets.
func (n *NS) Do(f func() error) error {
	target, err := os.Open(filepath.Join("/run/netns", n.Name))
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", n.Name, err)
	}
	defer target.Close()

	errc := make(chan error, 1)
	go func() { errc <- doIn(int(target.Fd()), f) }()
	return <-errc
}

// doIn switches the current thread into the namespace behind fd, runs f
// and switches back. A thread that cannot switch back stays locked, so
// that the runtime ends it with the goroutine instead of reusing it.
func doIn(fd int, f func() error) error {
	runtime.LockOSThread()
	home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening current namespace: %w", err)
	}
	defer home.Close()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering namespace: %w", err)
	}

	ferr := f()

	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leaving namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// freeSubnet picks a /30 of 10.213.0.0/16 that no interface of the root
// namespace uses yet.
func freeSubnet(t testing.TB) netip.Addr {
	t.Helper()
	used := string(run(t, "ip", "-o", "-4", "addr", "show"))
	for range 64 {
		b := randomBytes(t, 1)
		prefix := fmt.Sprintf("10.213.%d.", b[0])
		if !strings.Contains(used, prefix) {
			return netip.MustParseAddr(prefix + "0")
		}
	}
	t.Fatal("no free subnet in 10.213.0.0/16")
	return netip.Addr{}
}

func requireIP(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the ip command is missing: install the apt package iproute2 (make test does)")
	}
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("running %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return b
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	return hex.EncodeToString(randomBytes(t, n))
}
