package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
)

func TestEnrollWritesIdentity(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")

	for name, want := range map[string]os.FileMode{
		enrollmentFile: publicMode, keysFile: keysMode, caFile: publicMode,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	got, err := ReadEnrollment(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Enrollment{AgentID: "a1", Name: "test-a1", Zone: "dc1", Server: bus.web.URL,
		NATS: []string{bus.url}, CACert: caFile,
		JobsKey: bus.jobsKey.Public().(ed25519.PublicKey)}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreFields(Enrollment{}, "Enrolled")); diff != "" {
		t.Errorf("enrollment (-got +want):\n%s", diff)
	}

	id, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer id.wipe()
	srv := bus.agent("a1")
	if id.keys.AgentID != "a1" || !bytes.Equal(id.keys.HPKEPublic(), srv.hpke) ||
		!bytes.Equal(id.keys.SigningPublic(), srv.sign) || id.nkeyPub != srv.natsKey {
		t.Error("the keys on disk are not the ones the server enrolled")
	}
}

func TestEnrollRefuses(t *testing.T) {
	bus := newTestBus(t)
	enrolledDir := bus.enrollAgent(t, "a1")
	cases := []struct {
		name    string
		opts    EnrollOptions
		want    error
		code    api.Code
		request bool
		// msg is part of the error's message, when set.
		msg string
	}{
		{name: "already enrolled", opts: EnrollOptions{DataDir: enrolledDir},
			want: ErrAlreadyEnrolled},
		{name: "wrong token", opts: EnrollOptions{Token: secret.FromString("nope")},
			code: api.CodeUnauthenticated, request: true},
		{name: "plain http", opts: EnrollOptions{Server: "http://127.0.0.1:1"}},
		{name: "no token", opts: EnrollOptions{Token: secret.FromString("")}},
		{name: "no data directory", opts: EnrollOptions{DataDir: "-"}, want: ErrNoDataDir},
		{name: "a server that gives no jobs key", opts: EnrollOptions{Name: noJobsKey},
			request: true, msg: "no jobs key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := EnrollOptions{Server: bus.web.URL, Token: secret.FromString(goodToken),
				CACert: bus.ca.CertPEM, DataDir: t.TempDir()}
			merge(&opts, tc.opts)
			bus.mu.Lock()
			before := bus.enrolls
			bus.mu.Unlock()

			err := Enroll(context.Background(), opts)
			if err == nil {
				t.Fatal("Enroll succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Enroll = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Enroll = %v, want it to say %q", err, tc.msg)
			}
			if tc.code != "" && api.CodeOf(err) != tc.code {
				t.Errorf("Enroll = %v, want code %s", err, tc.code)
			}
			bus.mu.Lock()
			sent := bus.enrolls > before
			bus.mu.Unlock()
			if sent != tc.request {
				t.Errorf("request sent = %v, want %v", sent, tc.request)
			}
			if opts.DataDir != enrolledDir && opts.DataDir != "" {
				if entries, _ := os.ReadDir(opts.DataDir); len(entries) != 0 {
					t.Errorf("a failed enrollment left %d files", len(entries))
				}
			}
		})
	}
}

// merge copies the fields set in mod over opts; a DataDir of "-" clears
// it.
func merge(opts *EnrollOptions, mod EnrollOptions) {
	if mod.Server != "" {
		opts.Server = mod.Server
	}
	if mod.DataDir == "-" {
		opts.DataDir = ""
	} else if mod.DataDir != "" {
		opts.DataDir = mod.DataDir
	}
	if mod.Token.Reveal() != nil {
		opts.Token = mod.Token
	}
	if mod.Name != "" {
		opts.Name = mod.Name
	}
}
