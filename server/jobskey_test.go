package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
)

// TestJobsKey checks that a data directory keeps its jobs key, that one
// made before jobs were signed gets one with a warning, and that a
// damaged key file stops the server.
func TestJobsKey(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		made    bool
		wantErr bool
	}{
		{"kept", func(t *testing.T, dir string) {
			if err := initJobsKey(dir); err != nil {
				t.Fatal(err)
			}
		}, false, false},
		{"missing", func(*testing.T, string) {}, true, false},
		{"damaged", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, jobsKeyFile), []byte("not a key\n"),
				0o600); err != nil {
				t.Fatal(err)
			}
		}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.prepare(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, jobsKeyFile))
			logs := new(logbuf.Buffer)
			key, err := loadJobsKey(dir, hclog.New(&hclog.LoggerOptions{Output: logs}))
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("loadJobsKey error = %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			fi, err := os.Stat(filepath.Join(dir, jobsKeyFile))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
			}
			again, err := loadJobsKey(dir, hclog.NewNullLogger())
			if err != nil || !bytes.Equal(again, key) {
				t.Errorf("the key read again differs (%v)", err)
			}
			warned := strings.Contains(logs.String(), "enroll again")
			if warned != tc.made {
				t.Errorf("warned = %v, want %v", warned, tc.made)
			}
			if !tc.made && len(before) > 0 {
				after, _ := os.ReadFile(filepath.Join(dir, jobsKeyFile))
				if !bytes.Equal(before, after) {
					t.Error("the key file changed")
				}
			}
		})
	}
}
