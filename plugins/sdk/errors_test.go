package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

func TestRedact(t *testing.T) {
	pw := sdk.NewSecret([]byte("hunter2"))
	got := sdk.Redact("sorry hunter2, hunter2 is bad", pw, sdk.Secret{})
	if want := "sorry [redacted], [redacted] is bad"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

func TestAnnotate(t *testing.T) {
	e := sdk.Annotate(fmt.Errorf("wrapped: %w", sdk.Errorf(sdk.ReasonAuthFailed, "refused")), "logging in")
	if e.Reason != sdk.ReasonAuthFailed || e.Message != "logging in: refused" {
		t.Errorf("Annotate kept %#v", e)
	}
	e = sdk.Annotate(errors.New("boom"), "running")
	if e.Reason != sdk.ReasonFailed || e.Message != "running: boom" {
		t.Errorf("Annotate of a plain error gave %#v", e)
	}
}

func TestNetworkErrors(t *testing.T) {
	dial := func(errno error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name                 string
		err                  error
		timeout, unreachable bool
	}{
		{"refused", dial(syscall.ECONNREFUSED), false, true},
		{"no route", fmt.Errorf("connecting: %w", dial(syscall.EHOSTUNREACH)), false, true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "host.invalid", IsNotFound: true}, false, true},
		{"socket deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true, false},
		{"context deadline", fmt.Errorf("login: %w", context.DeadlineExceeded), true, false},
		{"reset", dial(syscall.ECONNRESET), false, false},
		{"cancelled", context.Canceled, false, false},
		{"other", errors.New("bad handshake"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdk.IsTimeout(tt.err); got != tt.timeout {
				t.Errorf("IsTimeout = %v, want %v", got, tt.timeout)
			}
			if got := sdk.IsUnreachable(tt.err); got != tt.unreachable {
				t.Errorf("IsUnreachable = %v, want %v", got, tt.unreachable)
			}
		})
	}
}
