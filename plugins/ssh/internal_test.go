package ssh

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

func TestPromptKind(t *testing.T) {
	tests := []struct {
		name  string
		out   string
		first bool
		want  int
	}{
		{"debian current", "Changing password for bob.\r\nCurrent password: ", true, promptCurrent},
		{"debian new", "\r\nNew password: ", false, promptNew},
		{"debian retype", "\r\nRetype new password: ", false, promptNew},
		{"old pam current", "(current) UNIX password:", true, promptCurrent},
		{"old pam new", "Enter new UNIX password:", false, promptNew},
		{"plain first", "Password:", true, promptCurrent},
		{"plain later", "Password:", false, promptNone},
		{"half a prompt", "New pass", false, promptNone},
		{"quality complaint", "BAD PASSWORD:", false, promptNone},
		{"program name", "passwd:", true, promptNone},
		{"message", "passwd: password updated successfully\r\n", false, promptNone},
		{"again", "Enter the new password again:", false, promptNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := promptKind(tt.out, tt.first); got != tt.want {
				t.Errorf("promptKind(%q, %v) = %d, want %d", tt.out, tt.first, got, tt.want)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"host", "host:22", true},
		{"host:2222", "host:2222", true},
		{"10.0.0.1", "10.0.0.1:22", true},
		{"[::1]:2222", "[::1]:2222", true},
		{"::1", "[::1]:22", true},
		{"", "", false},
		{"a b", "", false},
		{":22", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAddress(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseAddress(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestAccountPattern(t *testing.T) {
	for _, name := range []string{"root", "svc_app", "a.b-c", "_x", "User1"} {
		if err := checkAccount(name); err != nil {
			t.Errorf("checkAccount(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "-r", "1abc", "a b", "a;b", "a/b", "$(x)", "~x", "a\nb",
		"abcdefghijklmnopqrstuvwxyzabcdefg"} {
		if err := checkAccount(name); err == nil {
			t.Errorf("checkAccount(%q) accepted it", name)
		}
	}
}

// TestShellQuote runs quoted words through sh and checks that they come
// back as they were.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `a'b"c$d\e`, "x'; rm -rf /; '", "`id`"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printed %q (%v) for %q", out, err, s)
		}
	}
}

func TestRedact(t *testing.T) {
	pw := sdk.NewSecret([]byte("hunter2"))
	got := redact("sorry hunter2, hunter2 is bad", pw, sdk.Secret{})
	if want := "sorry [redacted], [redacted] is bad"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestAnnotate(t *testing.T) {
	err := annotate(sdk.Errorf(sdk.ReasonAuthFailed, "refused"), "logging in")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Reason != sdk.ReasonAuthFailed || e.Message != "logging in: refused" {
		t.Errorf("annotate kept %#v", err)
	}
	err = annotate(errors.New("boom"), "running")
	if !errors.As(err, &e) || e.Reason != sdk.ReasonFailed || e.Message != "running: boom" {
		t.Errorf("annotate of a plain error gave %#v", err)
	}
}
