package sdk

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/passman-dev/passman/proto/driver/v1"
)

// twoStepDriver fails its change and its check as told, and records the
// calls it took and the value each check tried.
type twoStepDriver struct {
	changeErr, checkErr error
	changeKey, checkKey string

	mu      sync.Mutex
	calls   []string
	checked [][]byte
}

func (d *twoStepDriver) Describe(context.Context) (*Description, error) {
	return &Description{Name: "two-step"}, nil
}

func (d *twoStepDriver) Check(_ context.Context, req *CheckRequest) (*CheckResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "check")
	d.checked = append(d.checked, bytes.Clone(req.Credential.Value.Reveal()))
	if d.checkErr != nil {
		return nil, d.checkErr
	}
	return &CheckResult{HostKey: d.checkKey}, nil
}

func (d *twoStepDriver) Change(context.Context, *ChangeRequest) (*ChangeResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "change")
	if d.changeErr != nil {
		return nil, d.changeErr
	}
	return &ChangeResult{HostKey: d.changeKey}, nil
}

// legacyServer is a plugin built before Rotate and RotateWhenReady
// existed.
type legacyServer struct{ *grpcServer }

func (legacyServer) Rotate(context.Context, *driverv1.ChangeRequest) (*driverv1.RotateResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method Rotate not implemented")
}

func (legacyServer) RotateWhenReady(
	grpc.ClientStreamingServer[driverv1.RotateStep, driverv1.RotateResponse]) error {
	return status.Error(codes.Unimplemented, "method RotateWhenReady not implemented")
}

// serveLegacy serves d as a plugin without Rotate would.
func serveLegacy(t *testing.T, d Driver) Driver {
	t.Helper()
	return serveWith(t, func(s *grpc.Server) {
		driverv1.RegisterDriverServer(s, legacyServer{&grpcServer{impl: d}})
	})
}

func TestRotate(t *testing.T) {
	denied := Errorf(ReasonAuthFailed, "no")
	cases := []struct {
		name      string
		driver    *twoStepDriver
		wantErr   Reason
		wantCheck Reason
		wantKey   string
		wantCalls []string
	}{
		{"both work", &twoStepDriver{changeKey: "k1", checkKey: "k2"}, "", "", "k2",
			[]string{"change", "check"}},
		{"the change's key when the login has none", &twoStepDriver{changeKey: "k1"}, "", "",
			"k1", []string{"change", "check"}},
		{"the change fails", &twoStepDriver{changeErr: denied}, ReasonAuthFailed, "", "",
			[]string{"change"}},
		{"the login after the change fails", &twoStepDriver{checkErr: denied}, "",
			ReasonAuthFailed, "", []string{"change", "check"}},
		{"a plain error of the login is failed", &twoStepDriver{checkErr: errors.New("boom")},
			"", ReasonFailed, "", []string{"change", "check"}},
	}
	serves := map[string]func(*testing.T, Driver) Driver{
		"in process": func(_ *testing.T, d Driver) Driver { return d },
		"plugin":     serve,
		"old plugin": serveLegacy,
	}
	for how, srv := range serves {
		for _, tc := range cases {
			t.Run(how+"/"+tc.name, func(t *testing.T) {
				d := twoStepDriver{changeErr: tc.driver.changeErr, checkErr: tc.driver.checkErr,
					changeKey: tc.driver.changeKey, checkKey: tc.driver.checkKey}
				req := &ChangeRequest{JobID: "j", Account: "app", Type: Password,
					Current: NewSecret([]byte("old")), New: NewSecret(nasty)}
				res, err := Rotate(context.Background(), srv(t, &d), req)
				checkRotated(t, res, err, tc.wantErr, tc.wantCheck, tc.wantKey)
				if diff := cmp.Diff(d.calls, tc.wantCalls); diff != "" {
					t.Errorf("calls (-got +want):\n%s", diff)
				}
				for _, v := range d.checked {
					if !bytes.Equal(v, nasty) {
						t.Errorf("the login tried %q, not the new value", v)
					}
				}
			})
		}
	}
}

// checkRotated fails t unless Rotate answered res and err as wanted: the
// change's reason wantErr, or the login's reason wantCheck, empty when it
// worked, and the host key wantKey.
func checkRotated(t *testing.T, res *RotateResult, err error, wantErr, wantCheck Reason,
	wantKey string) {
	t.Helper()
	var e *Error
	switch {
	case wantErr != "":
		if !errors.As(err, &e) || e.Reason != wantErr {
			t.Fatalf("Rotate error = %v, want reason %s", err, wantErr)
		}
	case err != nil:
		t.Fatalf("Rotate error = %v", err)
	case wantCheck == "" && res.CheckErr != nil,
		wantCheck != "" && (res.CheckErr == nil || res.CheckErr.Reason != wantCheck):
		t.Fatalf("CheckErr = %v, want reason %q", res.CheckErr, wantCheck)
	case res.HostKey != wantKey:
		t.Errorf("HostKey = %q, want %q", res.HostKey, wantKey)
	}
}

// oneStepDriver is a twoStepDriver that rotates in one call of its own.
type oneStepDriver struct {
	twoStepDriver
	rotated *RotateResult
}

func (d *oneStepDriver) Rotate(_ context.Context, req *ChangeRequest) (*RotateResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "rotate")
	if d.changeErr != nil {
		return nil, d.changeErr
	}
	return d.rotated, nil
}

// TestRotateOfARotator checks that a driver with a Rotate of its own is
// asked to rotate in one call, in process and through its plugin, with
// what it answers kept; a plugin built before Rotate gets Change and
// Check.
func TestRotateOfARotator(t *testing.T) {
	denied := Errorf(ReasonAuthFailed, "no")
	cases := []struct {
		name      string
		driver    *oneStepDriver
		wantErr   Reason
		wantCheck Reason
		wantKey   string
	}{
		{"it works", &oneStepDriver{rotated: &RotateResult{HostKey: "k"}}, "", "", "k"},
		{"the change fails", &oneStepDriver{twoStepDriver: twoStepDriver{changeErr: denied}},
			ReasonAuthFailed, "", ""},
		{"the login after it fails", &oneStepDriver{rotated: &RotateResult{CheckErr: denied}},
			"", ReasonAuthFailed, ""},
	}
	serves := []struct {
		how       string
		srv       func(*testing.T, Driver) Driver
		wantCalls []string
	}{
		{"in process", func(_ *testing.T, d Driver) Driver { return d }, []string{"rotate"}},
		{"plugin", serve, []string{"rotate"}},
	}
	for _, sv := range serves {
		for _, tc := range cases {
			t.Run(sv.how+"/"+tc.name, func(t *testing.T) {
				d := &oneStepDriver{rotated: tc.driver.rotated}
				d.changeErr = tc.driver.changeErr
				req := &ChangeRequest{JobID: "j", Account: "app", Type: Password,
					Current: NewSecret([]byte("old")), New: NewSecret(nasty)}
				res, err := Rotate(context.Background(), sv.srv(t, d), req)
				checkRotated(t, res, err, tc.wantErr, tc.wantCheck, tc.wantKey)
				if diff := cmp.Diff(d.calls, sv.wantCalls); diff != "" {
					t.Errorf("calls (-got +want):\n%s", diff)
				}
			})
		}
	}
	t.Run("old plugin", func(t *testing.T) {
		d := &oneStepDriver{rotated: &RotateResult{}}
		req := &ChangeRequest{JobID: "j", Account: "app", Type: Password,
			Current: NewSecret([]byte("old")), New: NewSecret(nasty)}
		if _, err := Rotate(context.Background(), serveLegacy(t, d), req); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d.calls, []string{"change", "check"}); diff != "" {
			t.Errorf("calls (-got +want):\n%s", diff)
		}
	})
}
