package sdktest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/file"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// faultEnv names, in the environment of a child test process, the fault
// TestFaultyDriver gives the file driver.
const faultEnv = "SDKTEST_FAULT"

// faults are the driver bugs the suite must find, each with what its
// report must say.
var faults = []struct{ name, want string }{
	{"check accepts any value", "Check with a wrong value succeeded"},
	{"wrong reason", "want reason auth_failed"},
	{"plain errors", "not an *sdk.Error"},
	{"secret in error", "the error message holds a credential value"},
	{"secret in log", "the driver's log holds a credential value"},
	{"change does nothing", "Check with the value the account should hold"},
	{"acts after the deadline", "Change after its deadline succeeded"},
	{"replay breaks the account", "--- FAIL: TestFaultyDriver/replay"},
	{"reconcile ignored", "want a failure with reason unsupported"},
	{"describes another type", "do not include \"password\""},
	{"prepare changes the target", "a change that was prepared and dropped changed the account"},
}

// TestSuiteFindsFaults runs the suite against the file driver with one
// fault at a time, each in a child process, and checks that the suite
// fails and says why. With no fault the suite must pass.
func TestSuiteFindsFaults(t *testing.T) {
	t.Run("no fault", func(t *testing.T) {
		if out, err := runFaulty(t, "none"); err != nil {
			t.Errorf("the suite failed a driver without fault: %v\n%s", err, out)
		}
	})
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			out, err := runFaulty(t, f.name)
			if err == nil {
				t.Fatalf("the suite passed a driver whose fault is %q\n%s", f.name, out)
			}
			if !strings.Contains(out, f.want) {
				t.Errorf("the suite's report lacks %q:\n%s", f.want, out)
			}
		})
	}
}

// runFaulty runs TestFaultyDriver with fault in a child process.
func runFaulty(t *testing.T, fault string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultyDriver$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), faultEnv+"="+fault)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestFaultyDriver is the child side of TestSuiteFindsFaults.
func TestFaultyDriver(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestSuiteFindsFaults")
	}
	path := filepath.Join(t.TempDir(), "app.env")
	current := sdk.NewSecret([]byte("Initial-" + rand.Text()))
	writeEnv(t, path, current)

	logs := &logbuf.Buffer{}
	d := &faulty{
		Driver: file.NewWithLogger(hclog.New(&hclog.LoggerOptions{Output: logs})),
		fault:  fault,
		log:    logs,
		jobs:   map[string]bool{},
	}
	sdktest.Run(t, d, sdktest.Target{
		Target: sdk.Target{Params: map[string]string{
			file.ParamPath: path, file.ParamKey: "KEY",
		}},
		Account:  "app",
		Type:     sdk.Password,
		Current:  current,
		NewValue: func() sdk.Secret { return sdk.NewSecret([]byte("New-" + rand.Text())) },
		Reset:    func(t *testing.T, v sdk.Secret) { writeEnv(t, path, v) },
		Logs:     logs.String,
	})
}

// writeEnv writes an env file holding KEY=value.
func writeEnv(t *testing.T, path string, value sdk.Secret) {
	t.Helper()
	if err := os.WriteFile(path, append([]byte("KEY="), value.Reveal()...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// faulty is a driver with one bug, named by fault, in front of a correct
// one.
type faulty struct {
	sdk.Driver
	fault string
	log   *logbuf.Buffer

	mu   sync.Mutex
	jobs map[string]bool
}

func (f *faulty) Describe(ctx context.Context) (*sdk.Description, error) {
	d, err := f.Driver.Describe(ctx)
	if err == nil && f.fault == "describes another type" {
		d.CredentialTypes = []string{sdk.PIN}
	}
	return d, err
}

func (f *faulty) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	res, err := f.Driver.Check(ctx, req)
	var e *sdk.Error
	switch {
	case err == nil:
	case f.fault == "check accepts any value":
		return &sdk.CheckResult{}, nil
	case f.fault == "wrong reason" && errors.As(err, &e):
		e.Reason = sdk.ReasonFailed
	case f.fault == "plain errors":
		return nil, errors.New(err.Error())
	case f.fault == "secret in error":
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "refused %s", req.Credential.Value.Reveal())
	}
	return res, err
}

func (f *faulty) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	switch f.fault {
	case "secret in log":
		_, _ = f.log.Write(append([]byte("changing to "), req.New.Reveal()...))
	case "change does nothing":
		return &sdk.ChangeResult{}, nil
	case "acts after the deadline":
		ctx = context.Background()
	case "reconcile ignored":
		req.Reconcile = nil
	case "replay breaks the account":
		if f.replayed(req.JobID) {
			req.Current, req.New = req.New, sdk.NewSecret([]byte("garbage "+rand.Text()))
		}
	}
	return f.Driver.Change(ctx, req)
}

// Prepare gets a change ready as the file driver does, which is making
// it whole when let proceed, unless the fault makes it change the target
// at once.
func (f *faulty) Prepare(ctx context.Context, req *sdk.ChangeRequest) (sdk.Prepared, error) {
	if f.fault == "prepare changes the target" {
		if _, err := f.Driver.Change(ctx, req); err != nil {
			return nil, err
		}
	}
	return sdk.Prepare(ctx, f.Driver, req)
}

// replayed reports whether a job id was seen before.
func (f *faulty) replayed(jobID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := f.jobs[jobID]
	f.jobs[jobID] = true
	return seen
}
