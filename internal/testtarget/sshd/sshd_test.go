package sshd_test

import (
	"net"
	"os"
	"os/user"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/testtarget/netns"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root to run sshd and manage users")
	}
	t.Fatal("needs root to run sshd and manage users")
}

// hostKey logs in to addr and returns the host key it presented, in
// authorized_keys form.
func hostKey(addr, name, password string) (string, error) {
	var seen string
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: name,
		Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			seen = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
			return nil
		},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	return seen, c.Close()
}

func TestServer(t *testing.T) {
	requireRoot(t)
	srv := sshd.Start(t, sshd.Options{})
	name, pw := sshd.UserName(t), sshd.Password(t)
	sshd.CreateUser(t, name, pw)

	got, err := hostKey(srv.Addr, name, pw)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	if got != srv.HostKey {
		t.Errorf("host key %q, want %q", got, srv.HostKey)
	}
	// The server may log the login a moment after the client sees it.
	logged := func() bool { return strings.Contains(srv.Logs(), "Accepted password for "+name) }
	for deadline := time.Now().Add(5 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("sshd logs do not show the login:\n%s", srv.Logs())
	}

	srv.Stop()
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", srv.Addr)
	}
}

func TestUsers(t *testing.T) {
	requireRoot(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = sshd.UserName(t)
		sshd.CreateUser(t, name, sshd.Password(t))
		_, line := sshd.GenerateKey(t)
		sshd.AuthorizeKeys(t, name, line)
		fi, err := os.Stat(sshd.AuthorizedKeysPath(t, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("authorized_keys: %v, %v", fi, err)
		}
		rule := sshd.SudoRule{NoPassword: true, Commands: []string{"/usr/bin/true"}}
		sshd.AllowSudo(t, name, rule)
	})
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s still exists after its test", name)
	}
	if _, err := os.Stat("/etc/sudoers.d/" + name); err == nil {
		t.Errorf("sudoers file of %s still exists after its test", name)
	}
}

// TestNamespace puts sshd in a network namespace of its own: the test
// process cannot reach it, a command run inside the namespace can.
func TestNamespace(t *testing.T) {
	requireRoot(t)
	ns := netns.New(t)
	srv := sshd.Start(t, sshd.Options{NS: ns})

	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is reachable from the root namespace", srv.Addr)
	}

	host, port, _ := net.SplitHostPort(srv.Addr)
	out := string(ns.Run(t, "ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", port, host))
	if !strings.Contains(out, srv.HostKey) {
		t.Errorf("ssh-keyscan inside the namespace printed %q, want the host key %q",
			out, srv.HostKey)
	}
}
