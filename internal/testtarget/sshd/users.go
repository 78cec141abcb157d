package sshd

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// UserName returns a fresh user name for one test: "pmt" and 12 hex
// digits, well within the 32 characters useradd allows.
func UserName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return "pmt" + hex.EncodeToString(b)
}

// Password returns a random password that passes the usual PAM quality
// checks: 20 characters mixing letters, digits and symbols.
func Password(t testing.TB) string {
	t.Helper()
	return "Pm-" + rand.Text()[:13] + "x9.z"
}

// CreateUser creates a local user with a home directory and bash as its
// shell, sets its password through chpasswd's standard input and deletes
// the user and its home when the test ends.
func CreateUser(t testing.TB, name, password string) {
	t.Helper()
	requireRoot(t)
	out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", name).CombinedOutput()
	if err != nil {
		t.Fatalf("creating user %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		out, err := exec.Command("userdel", "-r", "-f", name).CombinedOutput()
		if err != nil {
			t.Errorf("deleting user %s: %v: %s", name, err, out)
		}
	})
	SetPassword(t, name, password)
}

// SetPassword sets a user's password through chpasswd's standard input.
func SetPassword(t testing.TB, name, password string) {
	t.Helper()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setting the password of %s: %v: %s", name, err, out)
	}
}

// GenerateKey returns a new ed25519 key: the private key as OpenSSH PEM
// and the public key as an authorized_keys line without a newline.
func GenerateKey(t testing.TB) (privatePEM []byte, authorized string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("encoding key: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("converting key: %v", err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

// AuthorizedKeysPath returns the path of a user's authorized_keys file.
func AuthorizedKeysPath(t testing.TB, name string) string {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("looking up user %s: %v", name, err)
	}
	return filepath.Join(u.HomeDir, ".ssh", "authorized_keys")
}

// AuthorizeKeys writes lines as a user's authorized_keys file, replacing
// what was there, with the directory and file owned by the user and
// private to it.
func AuthorizeKeys(t testing.TB, name string, lines ...string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("looking up user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(u.HomeDir, ".ssh")
	file := filepath.Join(dir, "authorized_keys")
	data := strings.Join(lines, "\n") + "\n"

	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("creating %s: %v", dir, err)
	}
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatalf("writing %s: %v", file, err)
	}
	for _, p := range []string{dir, file} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatalf("giving %s to %s: %v", p, name, err)
		}
	}
}

// SudoRule is what a sudoers rule lets a user run.
type SudoRule struct {
	// RunAs is the user the commands run as; root when empty.
	RunAs string
	// NoPassword lets the user run them without a password.
	NoPassword bool
	// Commands are the full paths of the commands allowed.
	Commands []string
}

// AllowSudo gives a user a sudo rule, in a file in /etc/sudoers.d that
// is removed when the test ends.
func AllowSudo(t testing.TB, name string, rule SudoRule) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatal("sudo is missing: run make test, which installs the apt package sudo")
	}
	runAs, tag := cmp.Or(rule.RunAs, "root"), ""
	if rule.NoPassword {
		tag = "NOPASSWD: "
	}
	line := fmt.Sprintf("%s ALL=(%s) %s%s\n", name, runAs, tag, strings.Join(rule.Commands, ", "))

	// sudo skips files in sudoers.d whose names contain a dot, so the
	// user name, which has none, names the file.
	path := filepath.Join("/etc/sudoers.d", name)
	if err := os.WriteFile(path, []byte(line), 0o440); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("removing %s: %v", path, err)
		}
	})
	if out, err := exec.Command("visudo", "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("checking %s: %v: %s", path, err, out)
	}
}
