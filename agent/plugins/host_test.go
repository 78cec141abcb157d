package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/file"
	"github.com/passman-dev/passman/plugins/sdk"
)

// driverBin is the file driver's plugin executable, built once by TestMain.
var driverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "passman-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	driverBin = filepath.Join(dir, ExecutablePrefix+"file")
	build := exec.Command("go", "build", "-o", driverBin,
		"github.com/passman-dev/passman/plugins/file/cmd/passman-driver-file")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the file driver:", err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir returns a directory holding the file driver as name and a
// SHA256SUMS for it.
func pluginDir(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(driverBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startHost starts a host for the plugins of dir, logging to the returned
// buffer, and closes it when the test ends.
func startHost(t *testing.T, dir string) (*Host, *logbuf.Buffer) {
	t.Helper()
	specs, err := ReadChecksums(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, buf := newHost(t, specs)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h, buf
}

func newHost(t *testing.T, specs []Spec) (*Host, *logbuf.Buffer) {
	t.Helper()
	buf := &logbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "agent", Output: buf, Level: hclog.Debug})
	h := NewHost(specs, log)
	t.Cleanup(h.Close)
	return h, buf
}

// credFile writes an env file holding KEY=value and returns its target.
func credFile(t *testing.T, value string) sdk.Target {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(path, []byte("# app\nKEY="+value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return sdk.Target{Params: map[string]string{file.ParamPath: path, file.ParamKey: "KEY"}}
}

func checkWith(d sdk.Driver, tg sdk.Target, value string) error {
	_, err := d.Check(context.Background(), &sdk.CheckRequest{
		JobID:      "job-check",
		Target:     tg,
		Credential: sdk.Credential{Type: sdk.Password, Value: sdk.NewSecret([]byte(value))},
	})
	return err
}

func TestHostRunsDriver(t *testing.T) {
	const (
		oldValue = "0ld-Secret-Value"
		newValue = "n3w Secret #\"Value\""
	)
	h, logs := startHost(t, pluginDir(t, ExecutablePrefix+"file"))
	if diff := cmp.Diff(h.Loaded(), []string{"file"}); diff != "" {
		t.Errorf("Loaded (-got +want):\n%s", diff)
	}
	d, err := h.Driver("file")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := d.Describe(context.Background())
	if err != nil || desc.Name != file.Name {
		t.Fatalf("Describe = %+v, %v", desc, err)
	}

	tg := credFile(t, oldValue)
	if err := checkWith(d, tg, oldValue); err != nil {
		t.Fatalf("Check: %v", err)
	}
	_, err = d.Change(context.Background(), &sdk.ChangeRequest{
		JobID:   "job-change",
		Target:  tg,
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(oldValue)),
		New:     sdk.NewSecret([]byte(newValue)),
	})
	if err != nil {
		t.Fatalf("Change: %v", err)
	}
	if err := checkWith(d, tg, newValue); err != nil {
		t.Errorf("Check with the new value: %v", err)
	}
	var e *sdk.Error
	if err := checkWith(d, tg, oldValue); !errors.As(err, &e) || e.Reason != sdk.ReasonAuthFailed {
		t.Errorf("Check with the old value = %v, want reason %s", err, sdk.ReasonAuthFailed)
	}

	h.Close()
	out := logs.String()
	for _, want := range []string{"agent.file: credential changed", "job_id=job-change"} {
		if !strings.Contains(out, want) {
			t.Errorf("host log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{oldValue, newValue, "n3w Secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("host log holds a credential value:\n%s", out)
		}
	}
}

func TestHostRefusesPlugin(t *testing.T) {
	other := strings.Repeat("ab", 32)
	tests := []struct {
		name  string
		specs func(t *testing.T, good Spec) []Spec
		want  error
	}{
		{"tampered executable", func(t *testing.T, good Spec) []Spec {
			appendTo(t, good.Path, []byte("x"))
			return []Spec{good}
		}, ErrChecksumMismatch},
		{"other checksum", func(_ *testing.T, good Spec) []Spec {
			return []Spec{{Name: "file", Path: good.Path, SHA256: other}}
		}, ErrChecksumMismatch},
		{"other name", func(_ *testing.T, good Spec) []Spec {
			return []Spec{{Name: "ssh", Path: good.Path, SHA256: good.SHA256}}
		}, ErrNameMismatch},
		{"short checksum", func(_ *testing.T, good Spec) []Spec {
			return []Spec{{Name: "file", Path: good.Path, SHA256: "abcd"}}
		}, ErrInvalidSpec},
		{"twice", func(_ *testing.T, good Spec) []Spec {
			return []Spec{good, good}
		}, ErrInvalidSpec},
		{"missing executable", func(_ *testing.T, good Spec) []Spec {
			return []Spec{{Name: "file", Path: good.Path + "-gone", SHA256: good.SHA256}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, err := ReadChecksums(pluginDir(t, ExecutablePrefix+"file"))
			if err != nil {
				t.Fatal(err)
			}
			specs := tt.specs(t, good[0])
			h, _ := newHost(t, specs)
			err = h.Start(context.Background())
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Start error = %v, want %v", err, tt.want)
			}
			if len(h.Loaded()) > len(specs)-1 {
				t.Errorf("Loaded = %v", h.Loaded())
			}
			if len(specs) == 1 {
				if _, err := h.Driver(specs[0].Name); !errors.Is(err, ErrRestarting) {
					t.Errorf("Driver error = %v, want %v", err, ErrRestarting)
				}
			}
		})
	}
}

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// pid returns the process id of the named driver's plugin.
func pid(t *testing.T, h *Host, name string) int {
	t.Helper()
	m := h.plugins[name]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == nil {
		t.Fatalf("driver %s is not running", name)
	}
	return pidOf(m.client)
}

// killPlugin kills the named driver's plugin process and waits until the
// host has seen it end.
func killPlugin(t *testing.T, h *Host, name string) int {
	t.Helper()
	p := pid(t, h, name)
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.Loaded()) == 0 })
	return p
}

// waitFor polls cond until it holds, failing the test after five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("condition not met in 5s")
		}
	}
}

func TestHostRestartsDeadPlugin(t *testing.T) {
	h, logs := startHost(t, pluginDir(t, ExecutablePrefix+"file"))
	tg := credFile(t, "value-1")

	first := killPlugin(t, h, "file")
	d, err := h.Driver("file")
	if err != nil {
		t.Fatalf("Driver after the first death: %v", err)
	}
	if p := pid(t, h, "file"); p == first {
		t.Errorf("plugin runs with the pid it had before it was killed")
	}
	if err := checkWith(d, tg, "value-1"); err != nil {
		t.Errorf("Check through the restarted plugin: %v", err)
	}

	// A second early death waits before the next start.
	killPlugin(t, h, "file")
	if _, err := h.Driver("file"); !errors.Is(err, ErrRestarting) {
		t.Fatalf("Driver right after the second death = %v, want %v", err, ErrRestarting)
	}
	waitFor(t, func() bool {
		_, err := h.Driver("file")
		return err == nil
	})

	out := logs.String()
	wants := []string{"driver plugin exited", "restarting driver: driver=file restarts=2"}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("host log lacks %q:\n%s", want, out)
		}
	}
}

func TestHostClose(t *testing.T) {
	h, _ := startHost(t, pluginDir(t, ExecutablePrefix+"file"))
	p := pid(t, h, "file")
	h.Close()
	if len(h.Loaded()) != 0 {
		t.Errorf("Loaded after Close = %v", h.Loaded())
	}
	if _, err := h.Driver("file"); !errors.Is(err, ErrClosed) {
		t.Errorf("Driver after Close = %v, want %v", err, ErrClosed)
	}
	if err := syscall.Kill(p, 0); err == nil {
		t.Errorf("plugin process %d still runs after Close", p)
	}
	if _, err := h.Driver("nope"); !errors.Is(err, ErrUnknownDriver) {
		t.Errorf("Driver(nope) = %v, want %v", err, ErrUnknownDriver)
	}
}

func TestReadChecksums(t *testing.T) {
	sum := strings.Repeat("0a", 32)
	tests := []struct {
		name    string
		content string
		want    []Spec
		wantErr bool
	}{
		{"text mode", sum + "  passman-driver-file\n", []Spec{{Name: "file", SHA256: sum}}, false},
		{"binary mode", sum + " *passman-driver-ssh\n", []Spec{{Name: "ssh", SHA256: sum}}, false},
		{"upper case", strings.ToUpper(sum) + "  passman-driver-x\n",
			[]Spec{{Name: "x", SHA256: sum}}, false},
		{"other files", sum + "  passman\n\n# note\n" + sum + "  passman-driver-\n", nil, false},
		{"short sum", "abc  passman-driver-file\n", nil, true},
		{"not hex", strings.Repeat("zz", 32) + "  passman-driver-file\n", nil, true},
		{"path", sum + "  ../passman-driver-file\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ChecksumFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadChecksums(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadChecksums error = %v, want error %v", err, tt.wantErr)
			}
			for i := range tt.want {
				tt.want[i].Path = filepath.Join(dir, ExecutablePrefix+tt.want[i].Name)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ReadChecksums (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWriteChecksums(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"passman-driver-b": "bee",
		"passman-driver-a": "ay",
		"passman":          "not a plugin",
		"README":           "not a plugin",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "passman-driver-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, ChecksumFile))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256sum(t, dir, "passman-driver-a", "passman-driver-b")
	if diff := cmp.Diff(string(got), want); diff != "" {
		t.Errorf("SHA256SUMS (-got +want):\n%s", diff)
	}
}

// sha256sum returns what the sha256sum tool prints for files in dir, or
// computes the same in Go where the tool is missing.
func sha256sum(t *testing.T, dir string, files ...string) string {
	t.Helper()
	cmd := exec.Command("sha256sum", files...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err == nil {
		return string(out)
	}
	var b strings.Builder
	for _, f := range files {
		sum, err := fileSHA256(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(&b, sum+"  "+f+"\n")
	}
	return b.String()
}
