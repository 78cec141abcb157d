package sdk

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	driverv1 "github.com/passman-dev/passman/proto/driver/v1"
)

// nasty is a credential value that only survives a transport that keeps
// bytes as they are.
var nasty = []byte("p a\x00ss\"'\\=#;:!\n\r\té€😀\xff")

// scriptDriver answers each request with what its fields say, and keeps
// the last request it saw.
type scriptDriver struct {
	desc      *Description
	err       error
	hostKey   string
	block     bool // wait for the request's context to end
	panics    bool
	lastCheck *CheckRequest
	lastChg   *ChangeRequest
}

func (d *scriptDriver) Describe(context.Context) (*Description, error) {
	return d.desc, d.err
}

func (d *scriptDriver) Check(ctx context.Context, req *CheckRequest) (*CheckResult, error) {
	d.lastCheck = req
	if err := d.act(ctx); err != nil {
		return nil, err
	}
	return &CheckResult{HostKey: d.hostKey}, nil
}

func (d *scriptDriver) Change(ctx context.Context, req *ChangeRequest) (*ChangeResult, error) {
	d.lastChg = req
	if err := d.act(ctx); err != nil {
		return nil, err
	}
	return &ChangeResult{HostKey: d.hostKey}, nil
}

func (d *scriptDriver) act(ctx context.Context) error {
	if d.panics {
		panic("driver bug")
	}
	if d.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return d.err
}

// serve serves d on a loopback gRPC server built as Serve builds it and
// returns a client for it.
func serve(t *testing.T, d Driver) Driver {
	t.Helper()
	return serveWith(t, func(s *grpc.Server) {
		if err := (&Plugin{Impl: d}).GRPCServer(nil, s); err != nil {
			t.Fatal(err)
		}
	})
}

// serveWith serves what register puts on a loopback gRPC server built as
// Serve builds it and returns a driver client for it.
func serveWith(t *testing.T, register func(*grpc.Server)) Driver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newGRPCServer(hclog.NewNullLogger())(nil)
	register(s)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)

	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return NewGRPCClient(conn)
}

func TestDescribeRoundTrip(t *testing.T) {
	want := &Description{
		Name:            "file",
		CredentialTypes: []string{Password, PIN},
		Params: []Param{
			{Name: "path", Description: "where", Required: true},
			{Name: "format", Description: "how"},
		},
		Reconcile: true,
	}
	got, err := serve(t, &scriptDriver{desc: want}).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestCheckCarriesRequest(t *testing.T) {
	d := &scriptDriver{hostKey: "ssh-ed25519 AAAA"}
	req := &CheckRequest{
		JobID:      "job-1",
		Target:     Target{Address: "db:5432", Params: map[string]string{"k": "v"}, HostKey: "pin"},
		Account:    "root",
		Credential: Credential{Type: Password, Value: NewSecret(nasty)},
	}
	res, err := serve(t, d).Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.HostKey != d.hostKey {
		t.Errorf("HostKey = %q, want %q", res.HostKey, d.hostKey)
	}
	got := d.lastCheck
	if !bytes.Equal(got.Credential.Value.Reveal(), nasty) {
		t.Errorf("credential value changed on the wire")
	}
	got.Credential.Value, req.Credential.Value = Secret{}, Secret{}
	if diff := cmp.Diff(got, req, cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("request (-got +want):\n%s", diff)
	}
}

func TestChangeCarriesSecrets(t *testing.T) {
	d := &scriptDriver{}
	req := &ChangeRequest{
		JobID:   "job-2",
		Account: "app",
		Type:    PIN,
		Current: NewSecret([]byte("1234")),
		New:     NewSecret(nasty),
		Reconcile: &Login{
			Account:    "admin",
			Credential: Credential{Type: Password, Value: NewSecret([]byte("adm"))},
		},
	}
	if _, err := serve(t, d).Change(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := d.lastChg
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"current", got.Current.Reveal(), []byte("1234")},
		{"new", got.New.Reveal(), nasty},
		{"reconcile", got.Reconcile.Credential.Value.Reveal(), []byte("adm")},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s value changed on the wire", tt.name)
		}
	}
	if got.JobID != req.JobID || got.Type != PIN || got.Reconcile.Account != "admin" {
		t.Errorf("request fields changed on the wire: %+v", got)
	}
}

func TestErrorsCrossTheWire(t *testing.T) {
	tests := []struct {
		name   string
		driver *scriptDriver
		want   *Error
	}{
		{
			name:   "reason kept",
			driver: &scriptDriver{err: Errorf(ReasonHostKeyMismatch, "key %s", "x")},
			want:   &Error{Reason: ReasonHostKeyMismatch, Message: "key x"},
		},
		{
			name:   "wrapped reason kept",
			driver: &scriptDriver{err: wrapErr(Errorf(ReasonLockedOut, "locked"))},
			want:   &Error{Reason: ReasonLockedOut, Message: "locked"},
		},
		{
			name:   "plain error is failed",
			driver: &scriptDriver{err: errors.New("disk on fire")},
			want:   &Error{Reason: ReasonFailed, Message: "disk on fire"},
		},
		{
			name:   "empty reason is failed",
			driver: &scriptDriver{err: &Error{Message: "odd"}},
			want:   &Error{Reason: ReasonFailed, Message: "odd"},
		},
		{
			name:   "panic is failed",
			driver: &scriptDriver{panics: true},
			want: &Error{
				Reason:  ReasonFailed,
				Message: "calling the driver plugin: the driver panicked",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serve(t, tt.driver).Check(context.Background(), &CheckRequest{})
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Check error = %v, want an *Error", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("error (-got +want):\n%s", diff)
			}
		})
	}
}

func wrapErr(err error) error { return errors.Join(errors.New("context"), err) }

func TestDeadlineIsTimeout(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, Driver) error
	}{
		{"check", func(ctx context.Context, d Driver) error {
			_, err := d.Check(ctx, &CheckRequest{})
			return err
		}},
		{"change", func(ctx context.Context, d Driver) error {
			_, err := d.Change(ctx, &ChangeRequest{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := serve(t, &scriptDriver{block: true})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := tt.call(ctx, d)
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonTimeout {
				t.Fatalf("error = %v, want reason %s", err, ReasonTimeout)
			}
		})
	}
}

func TestServerTimeoutFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	f := toFailure(ctx, ctx.Err())
	want := &driverv1.Failure{
		Reason: string(ReasonTimeout), Message: "the request's deadline passed",
	}
	if f.GetReason() != want.GetReason() || f.GetMessage() != want.GetMessage() {
		t.Errorf("toFailure = %v, want %v", f, want)
	}
}
