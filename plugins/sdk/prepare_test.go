package sdk

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// preparingDriver is a twoStepDriver that prepares its changes: Prepare
// fails with prepareErr, and the Prepared it returns records its Rotate
// and its Close.
type preparingDriver struct {
	twoStepDriver
	prepareErr error
	prepared   []byte // the new value Prepare was given
	closed     chan struct{}
}

func newPreparingDriver() *preparingDriver {
	return &preparingDriver{closed: make(chan struct{})}
}

func (d *preparingDriver) record(call string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
}

func (d *preparingDriver) Prepare(_ context.Context, req *ChangeRequest) (Prepared, error) {
	d.record("prepare")
	d.prepared = bytes.Clone(req.New.Reveal())
	if d.prepareErr != nil {
		return nil, d.prepareErr
	}
	return &scriptPrepared{d: d}, nil
}

type scriptPrepared struct{ d *preparingDriver }

func (p *scriptPrepared) Rotate(context.Context) (*RotateResult, error) {
	p.d.record("rotate")
	if p.d.changeErr != nil {
		return nil, p.d.changeErr
	}
	return &RotateResult{HostKey: "k"}, nil
}

func (p *scriptPrepared) Close() {
	p.d.record("close")
	close(p.d.closed)
}

func (d *preparingDriver) callsNow() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

func changeReq() *ChangeRequest {
	return &ChangeRequest{JobID: "j", Account: "app", Type: Password,
		Current: NewSecret([]byte("old")), New: NewSecret(nasty)}
}

// TestPrepareThenRotate checks that a prepared change is made once let
// proceed: by the driver's own Prepared when it prepares, and by Rotate
// when it does not or when its plugin predates RotateWhenReady.
func TestPrepareThenRotate(t *testing.T) {
	denied := Errorf(ReasonAuthFailed, "no")
	serves := map[string]func(*testing.T, Driver) Driver{
		"in process": func(_ *testing.T, d Driver) Driver { return d },
		"plugin":     serve,
	}
	cases := []struct {
		name      string
		prepares  bool
		changeErr error
		wantErr   Reason
		wantKey   string
		wantCalls []string
	}{
		{"a preparing driver", true, nil, "", "k", []string{"prepare", "rotate"}},
		{"a preparing driver whose change fails", true, denied, ReasonAuthFailed, "",
			[]string{"prepare", "rotate"}},
		{"a driver that does not prepare", false, nil, "", "", []string{"change", "check"}},
		{"a driver that does not prepare, change failing", false, denied, ReasonAuthFailed, "",
			[]string{"change"}},
	}
	for how, srv := range serves {
		for _, tc := range cases {
			t.Run(how+"/"+tc.name, func(t *testing.T) {
				pd := newPreparingDriver()
				pd.changeErr = tc.changeErr
				var d Driver = pd
				if !tc.prepares {
					d = &pd.twoStepDriver
				}
				p, err := Prepare(context.Background(), srv(t, d), changeReq())
				if err != nil {
					t.Fatal(err)
				}
				res, err := p.Rotate(context.Background())
				checkRotated(t, res, err, tc.wantErr, "", tc.wantKey)
				if diff := cmp.Diff(pd.callsNow(), tc.wantCalls); diff != "" {
					t.Errorf("calls (-got +want):\n%s", diff)
				}
				if tc.prepares && !bytes.Equal(pd.prepared, nasty) {
					t.Errorf("Prepare got %q, not the new value", pd.prepared)
				}
			})
		}
	}
	t.Run("old plugin", func(t *testing.T) {
		pd := newPreparingDriver()
		p, err := Prepare(context.Background(), serveLegacy(t, pd), changeReq())
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Rotate(context.Background())
		checkRotated(t, res, err, "", "", "")
		if diff := cmp.Diff(pd.callsNow(), []string{"change", "check"}); diff != "" {
			t.Errorf("calls (-got +want):\n%s", diff)
		}
	})
}

// TestPreparedChangeNotLetProceed checks that a prepared change that is
// closed, or whose deadline passes before it may proceed, is dropped by
// the plugin unmade.
func TestPreparedChangeNotLetProceed(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		pd := newPreparingDriver()
		p, err := Prepare(context.Background(), serve(t, pd), changeReq())
		if err != nil {
			t.Fatal(err)
		}
		waitCalls(t, pd, []string{"prepare"})
		p.Close()
		waitClosed(t, pd)
		if diff := cmp.Diff(pd.callsNow(), []string{"prepare", "close"}); diff != "" {
			t.Errorf("calls (-got +want):\n%s", diff)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		pd := newPreparingDriver()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		p, err := Prepare(ctx, serve(t, pd), changeReq())
		if err != nil {
			t.Fatal(err)
		}
		waitClosed(t, pd)
		_, err = p.Rotate(ctx)
		checkRotated(t, nil, err, ReasonTimeout, "", "")
		if diff := cmp.Diff(pd.callsNow(), []string{"prepare", "close"}); diff != "" {
			t.Errorf("calls (-got +want):\n%s", diff)
		}
	})
}

// TestPrepareFailure checks that a change its driver could not prepare
// fails with the driver's reason when let proceed, and is never made.
func TestPrepareFailure(t *testing.T) {
	for how, srv := range map[string]func(*testing.T, Driver) Driver{
		"in process": func(_ *testing.T, d Driver) Driver { return d },
		"plugin":     serve,
	} {
		t.Run(how, func(t *testing.T) {
			pd := newPreparingDriver()
			pd.prepareErr = Errorf(ReasonAuthFailed, "the current password is wrong")
			p, err := Prepare(context.Background(), srv(t, pd), changeReq())
			if err == nil {
				_, err = p.Rotate(context.Background())
			}
			checkRotated(t, nil, err, ReasonAuthFailed, "", "")
			if diff := cmp.Diff(pd.callsNow(), []string{"prepare"}); diff != "" {
				t.Errorf("calls (-got +want):\n%s", diff)
			}
		})
	}
}

func waitCalls(t *testing.T, d *preparingDriver, want []string) {
	t.Helper()
	for range 500 {
		if slices.Equal(d.callsNow(), want) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("calls = %v, want %v", d.callsNow(), want)
}

func waitClosed(t *testing.T, d *preparingDriver) {
	t.Helper()
	select {
	case <-d.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the prepared change was not closed")
	}
}
