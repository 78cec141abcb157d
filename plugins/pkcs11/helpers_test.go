//go:build cgo

package pkcs11_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testtarget/softhsm"
	"github.com/passman-dev/passman/plugins/pkcs11"
	"github.com/passman-dev/passman/plugins/sdk"
)

// fixture is a fresh SoftHSM token and a pkcs11 driver whose logs are
// kept. At cleanup it fails the test if a PIN it knows of appears in the
// logs; every error the driver returns is checked for them too.
type fixture struct {
	tok *softhsm.Token
	drv *pkcs11.Driver

	logs logbuf.Buffer
	mu   sync.Mutex
	pins []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{tok: softhsm.Start(t)}
	f.drv = pkcs11.New(pkcs11.WithLogger(hclog.New(&hclog.LoggerOptions{
		Name:   "pkcs11",
		Output: &f.logs,
		Level:  hclog.Trace,
	})))
	f.pin(f.tok.SOPIN, f.tok.UserPIN)
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

// pin registers PINs that must never appear in logs or errors.
func (f *fixture) pin(values ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pins = append(f.pins, values...)
}

func (f *fixture) checkLogs(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	logs := f.logs.String()
	for _, p := range f.pins {
		if strings.Contains(logs, p) {
			t.Errorf("the driver's logs hold a PIN")
		}
	}
}

// target returns the fixture's token as a target named by its label.
func (f *fixture) target() sdk.Target {
	return sdk.Target{Address: "localhost", Params: map[string]string{
		pkcs11.ParamLibrary:    f.tok.Library,
		pkcs11.ParamTokenLabel: f.tok.Label,
		pkcs11.ParamConfigEnv:  f.tok.ConfigEnv(),
	}}
}

// bySlot returns the fixture's token as a target named by its slot.
func (f *fixture) bySlot() sdk.Target {
	return sdk.Target{Address: "localhost", Params: map[string]string{
		pkcs11.ParamLibrary:   f.tok.Library,
		pkcs11.ParamSlot:      strconv.FormatUint(uint64(f.tok.Slot), 10),
		pkcs11.ParamConfigEnv: f.tok.ConfigEnv(),
	}}
}

// check runs Check as account with pin on target and returns the reason
// of its error, or "" on success.
func (f *fixture) check(t *testing.T, target sdk.Target, account, pin string) sdk.Reason {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.drv.Check(ctx, &sdk.CheckRequest{JobID: "job-check", Target: target,
		Account: account, Credential: sdk.Credential{Type: sdk.PIN, Value: secret(pin)}})
	return f.reason(t, err)
}

// change runs Change and returns the reason of its error, or "" on
// success.
func (f *fixture) change(t *testing.T, req *sdk.ChangeRequest) sdk.Reason {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if req.JobID == "" {
		req.JobID = "job-change"
	}
	if req.Type == "" {
		req.Type = sdk.PIN
	}
	if req.Target.Params == nil {
		req.Target = f.target()
	}
	_, err := f.drv.Change(ctx, req)
	return f.reason(t, err)
}

// reason returns the reason of err, an *sdk.Error, after checking that
// its message holds no PIN.
func (f *fixture) reason(t *testing.T, err error) sdk.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Errorf("error %v is not an *sdk.Error", err)
		return sdk.ReasonFailed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pins {
		if strings.Contains(e.Message, p) {
			t.Errorf("the error message %q holds a PIN", e.Reason)
		}
	}
	t.Logf("%v", err)
	return e.Reason
}

// soLogin returns the reconcile login of a token's Security Officer.
func soLogin(pin string) *sdk.Login {
	return &sdk.Login{Account: pkcs11.AccountSO,
		Credential: sdk.Credential{Type: sdk.PIN, Value: secret(pin)}}
}

func secret(s string) sdk.Secret { return sdk.NewSecret([]byte(s)) }
