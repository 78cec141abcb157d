package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against the driver in
// this process and against the built plugin, as an agent runs it.
func TestConformance(t *testing.T) {
	t.Run("in process", func(t *testing.T) {
		sdktest.Run(t, New(), suiteTarget(t))
	})
	t.Run("plugin", func(t *testing.T) {
		sdktest.RunPlugin(t, sdktest.BuildPlugin(t, ".", Name), suiteTarget(t))
	})
}

// TestChangeKeepsOtherEntries checks that a change rewrites only the
// account's hash and keeps the file's mode.
func TestChangeKeepsOtherEntries(t *testing.T) {
	path, current := writeHtpasswd(t, "bob")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New().Change(context.Background(), &sdk.ChangeRequest{
		JobID:   "job-1",
		Target:  sdk.Target{Params: map[string]string{ParamPath: path}},
		Account: "bob",
		Type:    sdk.Password,
		Current: current,
		New:     sdk.NewSecret([]byte("n3w " + rand.Text())),
	})
	if err != nil {
		t.Fatalf("Change: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, a := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
	for i := range b {
		changed := b[i] != a[i]
		if want := strings.HasPrefix(b[i], "bob:"); changed != want {
			t.Errorf("line %d changed = %v, want %v:\nbefore %q\nafter  %q",
				i+1, changed, want, b[i], a[i])
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("after the change the file's mode is %v (%v), want 0640", info.Mode(), err)
	}
}

// suiteTarget returns a target for the suite: an htpasswd file in which
// the account bob has a password.
func suiteTarget(t *testing.T) sdktest.Target {
	t.Helper()
	path, current := writeHtpasswd(t, "bob")
	return sdktest.Target{
		Target:   sdk.Target{Address: "localhost", Params: map[string]string{ParamPath: path}},
		Account:  "bob",
		Type:     sdk.Password,
		Current:  current,
		NewValue: func() sdk.Secret { return sdk.NewSecret([]byte("pw " + rand.Text())) },
		Reset: func(t *testing.T, value sdk.Secret) {
			writeEntries(t, path, "bob", value)
		},
	}
}

// writeHtpasswd writes an htpasswd file in which user has a fresh
// password, between two other users, and returns its path and the
// password.
func writeHtpasswd(t *testing.T, user string) (string, sdk.Secret) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	pw := sdk.NewSecret([]byte("first " + rand.Text()))
	writeEntries(t, path, user, pw)
	return path, pw
}

// writeEntries writes the htpasswd file at path with user's password and
// entries for two other users.
func writeEntries(t *testing.T, path, user string, pw sdk.Secret) {
	t.Helper()
	var lines []string
	for _, e := range []struct {
		name string
		pw   []byte
	}{
		{"alice", []byte("alice's password")},
		{user, pw.Reveal()},
		{"carol", []byte("carol's password")},
	} {
		hash, err := bcrypt.GenerateFromPassword(e.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, e.name+":"+string(hash))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the mode of a file that exists.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
}
