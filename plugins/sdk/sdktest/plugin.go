package sdktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/agent/plugins"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/sdk"
)

// RunPlugin runs the conformance suite against the compiled driver plugin
// at binaryPath, on tgt. The file must be named passman-driver-<name>,
// where <name> is the name the driver's Describe reports, as an agent
// requires.
//
// The plugin starts the way an agent starts it: a copy of the file goes
// into a plugin directory of its own with a SHA256SUMS beside it, and the
// agent's plugin host checks the sum, starts the process, talks to it
// over gRPC and routes its log lines, at trace level, into a log the
// search for secrets covers besides tgt.Logs.
func RunPlugin(t *testing.T, binaryPath string, tgt Target) {
	t.Helper()
	host, name, logs := startPlugin(t, binaryPath)
	own := tgt.Logs
	tgt.Logs = func() string {
		if own == nil {
			return logs.String()
		}
		return logs.String() + "\n" + own()
	}
	run(t, hostDriver{host: host, name: name}, tgt, runOptions{flush: host.Close})
}

// BuildPlugin builds the Go main package pkg, an import path or a
// directory such as ".", into a plugin named passman-driver-<name> in a
// directory of the test's, and returns its path. Building in the test
// keeps RunPlugin from running a stale binary.
func BuildPlugin(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "passman-driver-"+name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("building the %s driver's plugin: %v\n%s", name, err, out)
	}
	return bin
}

// startPlugin starts the plugin at path through a plugin host, which it
// closes when the test ends, and returns the host, the driver's name and
// the host's log.
func startPlugin(t *testing.T, path string) (*plugins.Host, string, *logbuf.Buffer) {
	t.Helper()
	base := filepath.Base(path)
	name, ok := strings.CutPrefix(strings.TrimSuffix(base, ".exe"), plugins.ExecutablePrefix)
	if !ok || name == "" {
		t.Fatalf("sdktest: plugin file %q is not named %s<driver name>, as an agent needs",
			base, plugins.ExecutablePrefix)
	}
	dir := t.TempDir()
	copyExecutable(t, path, filepath.Join(dir, base))
	if err := plugins.WriteChecksums(dir); err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	specs, err := plugins.ReadChecksums(dir)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}

	logs := &logbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "agent", Output: logs, Level: hclog.Trace})
	host := plugins.NewHost(specs, log)
	t.Cleanup(host.Close)
	if err := host.Start(t.Context()); err != nil {
		t.Fatalf("sdktest: %v\nplugin host log:\n%s", err, logs.String())
	}
	return host, name, logs
}

// copyExecutable copies the file at from to a new executable file to.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("sdktest: reading the plugin: %v", err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatalf("sdktest: copying the plugin: %v", err)
	}
}

// hostDriver is the driver of a plugin host, asked for at each call as an
// agent asks for it at each job, so that a plugin that died is started
// again. It rotates and prepares changes as the agent does, through the
// protocol's Rotate and RotateWhenReady.
type hostDriver struct {
	host *plugins.Host
	name string
}

func (h hostDriver) Describe(ctx context.Context) (*sdk.Description, error) {
	d, err := h.host.Driver(h.name)
	if err != nil {
		return nil, err
	}
	return d.Describe(ctx)
}

func (h hostDriver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	d, err := h.host.Driver(h.name)
	if err != nil {
		return nil, err
	}
	return d.Check(ctx, req)
}

func (h hostDriver) Change(
	ctx context.Context, req *sdk.ChangeRequest,
) (*sdk.ChangeResult, error) {
	d, err := h.host.Driver(h.name)
	if err != nil {
		return nil, err
	}
	return d.Change(ctx, req)
}

func (h hostDriver) Rotate(ctx context.Context, req *sdk.ChangeRequest) (*sdk.RotateResult, error) {
	d, err := h.host.Driver(h.name)
	if err != nil {
		return nil, err
	}
	return sdk.Rotate(ctx, d, req)
}

func (h hostDriver) Prepare(ctx context.Context, req *sdk.ChangeRequest) (sdk.Prepared, error) {
	d, err := h.host.Driver(h.name)
	if err != nil {
		return nil, err
	}
	return sdk.Prepare(ctx, d, req)
}
