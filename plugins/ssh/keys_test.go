package ssh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
)

// managedMarker is the comment the driver writes before the key it
// manages. Operators read and write it by hand, so the tests spell it out
// rather than take it from the driver.
const managedMarker = "# managed by PassMan"

// keyAccount is an account whose authorized_keys holds a current key
// between two other lines that a key change must keep.
type keyAccount struct {
	name       string
	currentPEM []byte
	current    string // the current key's line
	others     []string
	// mode is the file's mode, which a change must keep.
	mode fs.FileMode
}

// keyAccount creates a key account. With managed, the current key comes
// after the driver's marker, as when the driver set it.
func (f *fixture) keyAccount(t *testing.T, managed bool) *keyAccount {
	t.Helper()
	a := &keyAccount{mode: 0o600}
	a.name, _ = f.user(t)
	a.currentPEM, a.current = f.key(t)
	_, other := f.key(t)
	_, restricted := f.key(t)
	a.others = []string{other + " colleague@example", `from="10.0.0.1" ` + restricted}
	lines := []string{a.others[0], a.current, a.others[1]}
	if managed {
		lines = []string{a.others[0], managedMarker, a.current, a.others[1]}
	}
	sshd.AuthorizeKeys(t, a.name, lines...)
	return a
}

// lines returns the account's authorized_keys lines as they are now.
func (a *keyAccount) lines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(sshd.AuthorizedKeysPath(t, a.name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// wantKeys checks which keys log in to the account, and that its
// authorized_keys file holds exactly lines, with the account's mode.
func (f *fixture) wantKeys(t *testing.T, a *keyAccount, works, fails [][]byte, lines []string) {
	t.Helper()
	for _, k := range works {
		if err := plainLogin(f.srv.Addr, a.name, plainKey(t, k)); err != nil {
			t.Errorf("login with a key that should work: %v", err)
		}
	}
	for _, k := range fails {
		if err := plainLogin(f.srv.Addr, a.name, plainKey(t, k)); err == nil {
			t.Errorf("login with a key that should fail succeeded")
		}
	}
	if diff := gocmp.Diff(a.lines(t), lines); diff != "" {
		t.Errorf("authorized_keys (-got +want):\n%s", diff)
	}
	path := sshd.AuthorizedKeysPath(t, a.name)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != a.mode {
		t.Errorf("authorized_keys: mode %v (%v), want %v", fi.Mode().Perm(), err, a.mode)
	}
}

// keyRequest is a request to change account's key from current, which
// may be nil, to next.
func (f *fixture) keyRequest(account string, current, next []byte) *sdk.ChangeRequest {
	req := &sdk.ChangeRequest{
		JobID:   "job-key",
		Target:  f.target(nil),
		Account: account,
		Type:    sdk.SSHKey,
		New:     sdk.NewSecret(next),
	}
	if current != nil {
		req.Current = sdk.NewSecret(current)
	}
	return req
}

// change sends a change request to the fixture's driver.
func (f *fixture) change(ctx context.Context, t *testing.T, req *sdk.ChangeRequest) error {
	t.Helper()
	_, err := f.drv.Change(ctx, req)
	f.secrets.CheckError(t, err)
	return err
}

// reconcileLogin creates a reconcile account that may run sh as account
// through sudo, with a password when withPassword is set.
func (f *fixture) reconcileLogin(t *testing.T, account string, withPassword bool) *sdk.Login {
	t.Helper()
	rec, recPassword := f.user(t)
	sshd.AllowSudo(t, rec, sshd.SudoRule{
		RunAs: account, NoPassword: !withPassword, Commands: []string{"/bin/sh", "/usr/bin/sh"},
	})
	return &sdk.Login{Account: rec, Credential: drivertest.Password(recPassword)}
}

func TestChangeKeySelf(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	tests := []struct {
		name    string
		managed bool
		mode    fs.FileMode
	}{
		{name: "key set by hand"},
		{name: "key set by the driver", managed: true},
		{name: "mode kept", mode: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.keyAccount(t, tt.managed)
			if tt.mode != 0 {
				a.mode = tt.mode
				if err := os.Chmod(sshd.AuthorizedKeysPath(t, a.name), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			nextPEM, nextLine := f.key(t)

			err := f.change(t.Context(), t, f.keyRequest(a.name, a.currentPEM, nextPEM))
			if err != nil {
				t.Fatalf("Change: %v", err)
			}
			want := []string{a.others[0], managedMarker, nextLine, a.others[1]}
			f.wantKeys(t, a, [][]byte{nextPEM}, [][]byte{a.currentPEM}, want)
		})
	}
}

// TestChangeKeyNewRefused has the server refuse the new key's algorithm:
// the change must fail and leave the account with its current key only.
func TestChangeKeyNewRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{Config: []string{"PubkeyAcceptedAlgorithms ssh-ed25519"}})
	a := f.keyAccount(t, false)
	nextPEM := ecdsaKey(t)
	f.secrets.Add(string(nextPEM))
	before := a.lines(t)

	err := f.change(t.Context(), t, f.keyRequest(a.name, a.currentPEM, nextPEM))
	if got := drivertest.Reason(t, err); got != sdk.ReasonAuthFailed {
		t.Fatalf("Change: reason %q (%v), want auth_failed", got, err)
	}
	f.wantKeys(t, a, [][]byte{a.currentPEM}, [][]byte{nextPEM}, before)
}

// TestChangeKeyElsewhere has the current key log in from a second keys
// file: the driver cannot remove it there, so it must change nothing.
func TestChangeKeyElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{Config: []string{
		"AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2",
	}})
	a := f.keyAccount(t, false)
	sshd.AuthorizeKeys(t, a.name, a.others...)
	second := filepath.Join(filepath.Dir(sshd.AuthorizedKeysPath(t, a.name)), "authorized_keys2")
	if err := os.WriteFile(second, []byte(a.current+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nextPEM, _ := f.key(t)

	err := f.change(t.Context(), t, f.keyRequest(a.name, a.currentPEM, nextPEM))
	if got := drivertest.Reason(t, err); got != sdk.ReasonFailed {
		t.Fatalf("Change: reason %q (%v), want failed", got, err)
	}
	f.wantKeys(t, a, [][]byte{a.currentPEM}, [][]byte{nextPEM}, a.others)
}

// TestReconcileKey replaces keys through a reconcile account, with and
// without the current key. Without it, the driver replaces the key after
// its marker and keeps every other key.
func TestReconcileKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	tests := []struct {
		name        string
		managed     bool // the current key comes after the driver's marker
		withCurrent bool // the request names the current key
		noFile      bool // the account has no authorized_keys at all
		sudoAsks    bool // sudo asks for the reconcile account's password
		// currentKept says the current key still logs in after: with
		// neither the marker nor the request naming it, nothing tells it
		// from a key the driver must keep.
		currentKept bool
	}{
		{name: "managed key unknown", managed: true},
		{name: "managed key unknown, sudo asks", managed: true, sudoAsks: true},
		{name: "current key named", withCurrent: true, sudoAsks: true},
		{name: "no managed key yet", currentKept: true},
		{name: "no authorized_keys", noFile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.keyAccount(t, tt.managed)
			if tt.noFile {
				if err := os.RemoveAll(filepath.Dir(sshd.AuthorizedKeysPath(t, a.name))); err != nil {
					t.Fatal(err)
				}
			}
			rec := f.reconcileLogin(t, a.name, tt.sudoAsks)
			nextPEM, nextLine := f.key(t)
			req := f.keyRequest(a.name, nil, nextPEM)
			req.Reconcile = rec
			if tt.withCurrent {
				req.Current = sdk.NewSecret(a.currentPEM)
			}

			if err := f.change(t.Context(), t, req); err != nil {
				t.Fatalf("Change: %v", err)
			}
			want := []string{a.others[0], managedMarker, nextLine, a.others[1]}
			works, fails := [][]byte{nextPEM}, [][]byte{a.currentPEM}
			switch {
			case tt.noFile:
				want = []string{managedMarker, nextLine}
			case tt.currentKept:
				want = []string{a.others[0], a.current, a.others[1], managedMarker, nextLine}
				works, fails = append(works, a.currentPEM), nil
			}
			f.wantKeys(t, a, works, fails, want)
		})
	}
}

// TestReconcileKeyTwice reconciles an account twice without its current
// key: the second change replaces the key the first one set.
func TestReconcileKeyTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	a := f.keyAccount(t, false)
	rec := f.reconcileLogin(t, a.name, false)
	firstPEM, _ := f.key(t)
	secondPEM, secondLine := f.key(t)

	for _, next := range [][]byte{firstPEM, secondPEM} {
		req := f.keyRequest(a.name, nil, next)
		req.Reconcile = rec
		if err := f.change(t.Context(), t, req); err != nil {
			t.Fatalf("Change: %v", err)
		}
	}
	want := []string{a.others[0], a.current, a.others[1], managedMarker, secondLine}
	f.wantKeys(t, a, [][]byte{secondPEM, a.currentPEM}, [][]byte{firstPEM}, want)
}

// TestChangeKeyUnverified lets a key change reach the target, then stops
// every new connection to it, so that the login with the new key hangs
// until the deadline. The driver must put the previous file back before
// the deadline and report timeout: the account never keeps both keys,
// nor a new key nobody has seen work.
func TestChangeKeyUnverified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	const deadline = 2 * time.Second
	for _, reconcile := range []bool{false, true} {
		t.Run(map[bool]string{false: "self", true: "reconcile"}[reconcile], func(t *testing.T) {
			t.Parallel()
			a := f.keyAccount(t, false)
			before := a.lines(t)
			nextPEM, _ := f.key(t)
			req := f.keyRequest(a.name, a.currentPEM, nextPEM)
			if reconcile {
				req.Reconcile = f.reconcileLogin(t, a.name, true)
			}
			req.Target.Address = firstOnlyProxy(t, f.srv.Addr)

			start := time.Now()
			err := f.change(drivertest.Context(t, deadline), t, req)
			if took := time.Since(start); took > deadline {
				t.Errorf("Change took %v, past its deadline of %v", took, deadline)
			}
			if got := drivertest.Reason(t, err); got != sdk.ReasonTimeout {
				t.Fatalf("Change: reason %q (%v), want timeout", got, err)
			}
			if !strings.Contains(err.Error(), "back in place") {
				t.Errorf("Change: %v; want it to say the previous file is back", err)
			}
			f.wantKeys(t, a, [][]byte{a.currentPEM}, [][]byte{nextPEM}, before)
		})
	}
}

// firstOnlyProxy forwards the first connection it accepts to addr and
// holds every later one open without a word, as a target that stopped
// answering would. It returns its address.
func firstOnlyProxy(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	keep := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for first := true; ; first = false {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if keep(c) && first {
				go forward(c, addr, keep)
			}
		}
	}()
	return l.Addr().String()
}

// forward copies between c and a new connection to addr until either
// side closes.
func forward(c net.Conn, addr string, keep func(net.Conn) bool) {
	up, err := net.Dial("tcp", addr)
	if err != nil {
		c.Close()
		return
	}
	if !keep(up) {
		return
	}
	go func() {
		_, _ = io.Copy(up, c)
		up.Close()
	}()
	_, _ = io.Copy(c, up)
	c.Close()
}

func ecdsaKey(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// authorized returns the authorized_keys line of a private key.
func authorized(t *testing.T, privatePEM []byte) string {
	t.Helper()
	s, err := xssh.ParsePrivateKey(privatePEM)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(s.PublicKey())))
}
