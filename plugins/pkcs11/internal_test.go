//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/testtarget/softhsm"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestTimeout checks that a request answers timeout by its deadline
// while another holds the token, and that one whose deadline has passed
// does not start.
func TestTimeout(t *testing.T) {
	tok := softhsm.Start(t)
	d := New()
	target := sdk.Target{Params: map[string]string{ParamLibrary: tok.Library,
		ParamTokenLabel: tok.Label, ParamConfigEnv: tok.ConfigEnv()}}
	req := &sdk.CheckRequest{Target: target, Account: AccountUser,
		Credential: sdk.Credential{Type: sdk.PIN, Value: sdk.NewSecret([]byte(tok.UserPIN))}}
	if _, err := d.Check(context.Background(), req); err != nil {
		t.Fatalf("check: %v", err)
	}

	p, err := parseParams(target)
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModule(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	release, err := m.lock(context.Background(), tok.Slot)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Check(ctx, req)
	release()
	if reason(err) != sdk.ReasonTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("check while the token is busy = %v after %v, want timeout at the deadline",
			err, time.Since(start))
	}

	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := d.Check(expired, req); reason(err) != sdk.ReasonTimeout {
		t.Errorf("check past its deadline = %v, want timeout", err)
	}
}

func reason(err error) sdk.Reason {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
