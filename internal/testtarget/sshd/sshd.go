// Package sshd runs a real OpenSSH server for tests, with its own
// configuration and host key in the test's temporary directory, and
// manages the local users, keys and sudo rules that tests log in with.
//
// Everything here needs root and changes the machine's user database for
// the length of a test: users and sudoers files get unique names and are
// removed at cleanup. The server needs the apt package openssh-server,
// the sudo helpers the package sudo; make test installs both.
package sshd

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testtarget/netns"
	"github.com/passman-dev/passman/internal/testtarget/proc"
)

// Binary is where the server is expected.
const Binary = "/usr/sbin/sshd"

// startTimeout bounds how long Start waits for the server to listen.
const startTimeout = 15 * time.Second

// Options says how to run a server. The zero Options listens on a free
// port of 127.0.0.1 in the root network namespace.
type Options struct {
	// Addr is the host:port to listen on. The default is 127.0.0.1 and
	// a port free in the root network namespace.
	Addr string
	// NS, when set, runs the server inside that network namespace.
	NS *netns.NS
	// Config holds extra sshd_config lines. They take precedence over
	// the package's defaults.
	Config []string
	// RootKeys are public keys, in authorized_keys form, that root may
	// log in with. They are kept in the server's own directory, so the
	// machine's root account is left as it is; without them root cannot
	// log in.
	RootKeys []string
}

// Server is a running sshd.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string
	// HostKey is the server's host key in authorized_keys form, without
	// a comment or newline.
	HostKey string

	proc *proc.Process
	logs logbuf.Buffer
}

// Start starts sshd in the foreground with a fresh ed25519 host key and
// password, keyboard-interactive and public key authentication through
// PAM, waits until it accepts connections and stops it at cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("%s is missing: run make test, which installs the apt package openssh-server",
			Binary)
	}
	// Debian's sshd refuses to start without its privilege separation
	// directory, which only the service unit creates.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd: %v", err)
	}

	dir := t.TempDir()
	s := &Server{Addr: listenAddr(t, opts)}
	s.HostKey = writeHostKey(t, filepath.Join(dir, "host_key"))
	cfg := writeConfig(t, dir, s.Addr, opts.Config, rootKeys(t, dir, opts.RootKeys))

	s.start(t, cfg, opts.NS)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd logs:\n%s", s.Logs())
		}
	})
	s.waitListening(t, opts.NS)
	return s
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop stops the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Stop() { s.proc.Stop(syscall.SIGTERM, 5*time.Second) }

func (s *Server) start(t testing.TB, cfg string, ns *netns.NS) {
	t.Helper()
	args := []string{"-D", "-e", "-f", cfg}
	cmd := exec.Command(Binary, args...)
	if ns != nil {
		cmd = ns.Command(context.Background(), Binary, args...)
	}
	s.proc = proc.Start(t, "sshd", cmd, &s.logs)
}

// waitListening polls the server's address until it accepts a connection,
// from inside the namespace when there is one.
func (s *Server) waitListening(t testing.TB, ns *netns.NS) {
	t.Helper()
	if err := s.proc.Wait(startTimeout, func() error { return s.probe(ns) }); err != nil {
		t.Fatalf("sshd is not listening on %s: %v\n%s", s.Addr, err, s.Logs())
	}
}

func (s *Server) probe(ns *netns.NS) error {
	dial := func() error {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
	if ns == nil {
		return dial()
	}
	return ns.Do(dial)
}

// listenAddr returns the address to listen on. The default port is free
// in the root namespace even for a server in another one, so that
// nothing answers there when a test dials it from outside.
func listenAddr(t testing.TB, opts Options) string {
	t.Helper()
	if opts.Addr != "" {
		return opts.Addr
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeHostKey writes a new ed25519 host key to path and returns its
// public half in authorized_keys form.
func writeHostKey(t testing.TB, path string) string {
	t.Helper()
	priv, pub := GenerateKey(t)
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		t.Fatalf("writing host key: %v", err)
	}
	return pub
}

// baseConfig is the configuration every test server starts from.
var baseConfig = []string{
	"PasswordAuthentication yes",
	"KbdInteractiveAuthentication yes",
	"PubkeyAuthentication yes",
	"UsePAM yes",
	"StrictModes no",
	"PermitRootLogin no",
	"AuthorizedKeysFile .ssh/authorized_keys",
	"MaxStartups 100",
	"MaxAuthTries 10",
	"LogLevel VERBOSE",
	// Newer servers slow down a source after failed logins, which is what
	// the tests do on purpose. Dropped when the server is too old for it.
	"PerSourcePenalties no",
}

// rootKeys writes keys to a file in dir and returns the Match block that
// lets root log in with them, or nil when there are none.
func rootKeys(t testing.TB, dir string, keys []string) []string {
	t.Helper()
	if len(keys) == 0 {
		return nil
	}
	path := filepath.Join(dir, "root_authorized_keys")
	if err := os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("writing root's keys: %v", err)
	}
	return []string{
		"Match User root",
		"\tPermitRootLogin prohibit-password",
		"\tAuthorizedKeysFile " + path,
	}
}

// writeConfig writes sshd_config into dir and checks it with sshd -t,
// leaving out options the installed server does not know. The match
// lines come last, where Match blocks must be.
func writeConfig(t testing.TB, dir, addr string, extra, match []string) string {
	t.Helper()
	path := filepath.Join(dir, "sshd_config")
	lines := []string{
		"ListenAddress " + addr,
		"HostKey " + filepath.Join(dir, "host_key"),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
	}
	// sshd takes the first value given for an option, so the test's own
	// lines come before the defaults they override.
	lines = append(append(append(lines, extra...), baseConfig...), match...)
	for range len(lines) {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatalf("writing sshd_config: %v", err)
		}
		out, err := exec.Command(Binary, "-t", "-f", path).CombinedOutput()
		if err == nil {
			return path
		}
		bad := unknownOption(string(out))
		if bad == "" || !dropOption(&lines, bad) {
			t.Fatalf("checking sshd_config: %v: %s", err, out)
		}
	}
	t.Fatal("checking sshd_config: too many unknown options")
	return ""
}

// unknownOption returns the option sshd -t named as unsupported.
func unknownOption(out string) string {
	const marker = "Bad configuration option: "
	_, after, ok := strings.Cut(out, marker)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(name)
}

func dropOption(lines *[]string, name string) bool {
	for i, l := range *lines {
		if strings.EqualFold(strings.Fields(l)[0], name) {
			*lines = append((*lines)[:i], (*lines)[i+1:]...)
			return true
		}
	}
	return false
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("starting sshd and managing users needs root")
	}
}
