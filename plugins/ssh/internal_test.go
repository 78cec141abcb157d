package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"os/exec"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
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

// TestCksum compares cksum with the system's cksum command.
func TestCksum(t *testing.T) {
	for _, in := range []string{"", "a", "ssh-ed25519 AAAA x\n", strings.Repeat("k", 70000)} {
		cmd := exec.Command("cksum")
		cmd.Stdin = strings.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cksum: %v", err)
		}
		if want, got := strings.Join(strings.Fields(string(out)), " "), cksum([]byte(in)); got != want {
			t.Errorf("cksum of %d bytes = %q, the command says %q", len(in), got, want)
		}
	}
}

func TestReplaceManaged(t *testing.T) {
	newKey, newLine := testKey(t)
	oldKey, oldLine := testKey(t)
	_, other := testKey(t)
	keys := &keyPair{newKey: newKey, newLine: newLine, oldKey: oldKey}
	unknown := &keyPair{newKey: newKey, newLine: newLine}
	const marker = managedMarker
	tests := []struct {
		name  string
		keys  *keyPair
		in    []string
		want  []string
		found bool
	}{
		{"current replaced in place", keys,
			[]string{"# mine", other, `from="10.0.0.1" ` + oldLine, ""},
			[]string{"# mine", other, marker, newLine, ""}, true},
		{"current after the marker", keys,
			[]string{other, marker, oldLine},
			[]string{other, marker, newLine}, true},
		{"unknown key after the marker", unknown,
			[]string{marker, oldLine, other},
			[]string{marker, newLine, other}, false},
		{"current and another key after the marker", keys,
			[]string{marker, other, oldLine},
			[]string{marker, newLine}, true},
		{"no managed key", unknown,
			[]string{other, oldLine},
			[]string{other, oldLine, marker, newLine}, false},
		{"marker without a key", unknown,
			[]string{other, marker, "# note", oldLine},
			[]string{other, marker, newLine, "# note", oldLine}, false},
		{"empty file", unknown, nil, []string{marker, newLine}, false},
		{"new key already there", unknown,
			[]string{newLine + " copy", other},
			[]string{marker, newLine, other}, false},
		{"garbage kept", keys,
			[]string{"not a key", oldLine},
			[]string{"not a key", marker, newLine}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.in != nil {
				in = []byte(strings.Join(tt.in, "\n") + "\n")
			}
			e := replaceManaged(in, tt.keys)
			want := strings.Join(tt.want, "\n") + "\n"
			if string(e.content) != want || e.foundCurrent != tt.found {
				t.Errorf("replaceManaged = %q, found %v; want %q, found %v",
					e.content, e.foundCurrent, want, tt.found)
			}
		})
	}
}

// testKey returns a new public key and its authorized_keys line.
func testKey(t *testing.T) (xssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := xssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, authorizedLine(k)
}
