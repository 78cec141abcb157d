package ssh

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/testtarget/sshd"
)

// localEditor runs the driver's authorized_keys scripts on this machine
// as account, through su, as the root reconcile method does on a target.
func localEditor(account string) keyEditor {
	return func(ctx context.Context, script string, stdin []byte) (*output, error) {
		cmd := exec.CommandContext(ctx, "su", "-s", "/bin/sh", "-c", script, account)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &stdout, &stderr
		err := cmd.Run()
		out := &output{stdout: stdout.String(), stderr: stderr.String()}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			out.status = exit.ExitCode()
			return out, nil
		}
		return out, err
	}
}

// TestKeyFileScripts runs the scripts that read and write authorized_keys
// against a real account's file, and checks that a write happens only
// from the state it expects, whole, keeping the file's mode.
func TestKeyFileScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "" {
			t.Skip("needs root to create users")
		}
		t.Fatal("needs root to create users")
	}
	account := sshd.UserName(t)
	sshd.CreateUser(t, account, sshd.Password(t))
	edit, ctx := localEditor(account), t.Context()
	path := sshd.AuthorizedKeysPath(t, account)
	first, second := []byte("# first\n"), []byte("# second\n")

	read := func() *keyFile {
		t.Helper()
		f, err := readKeyFile(ctx, edit, account)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		return f
	}
	want := func(content []byte, mode fs.FileMode) {
		t.Helper()
		if f := read(); !bytes.Equal(f.content, content) || f.state != cksum(content) {
			t.Errorf("the file holds %q in state %q, want %q", f.content, f.state, content)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("mode %v (%v), want %v", fi.Mode().Perm(), err, mode)
		}
	}

	if f := read(); f.state != stateMissing || len(f.content) != 0 {
		t.Fatalf("no file yet, but read %q in state %q", f.content, f.state)
	}
	if err := writeKeyFile(ctx, edit, account, stateMissing, cksum(first), first); err != nil {
		t.Fatalf("writing the first file: %v", err)
	}
	want(first, 0o600)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		from    string
		content []byte
		short   bool   // send one byte less than announced
		wantErr string // in the error, or "" for success
		after   []byte // the file after
	}{
		{"from another state", cksum(second), second, false, "changed by someone else", first},
		{"short input", cksum(first), second, true, "came incomplete", first},
		{"from the state read", cksum(first), second, false, "", second},
		{"already done", cksum(first), second, false, "", second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edit := edit
			if tt.short {
				edit = func(ctx context.Context, script string, in []byte) (*output, error) {
					return localEditor(account)(ctx, script, in[:len(in)-1])
				}
			}
			err := writeKeyFile(ctx, edit, account, tt.from, cksum(tt.content), tt.content)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("writing: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("writing: %v; want a refusal saying %q", err, tt.wantErr)
			}
			want(tt.after, 0o640)
		})
	}
	if left, _ := filepath.Glob(path + ".*"); len(left) > 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}
