package sdk

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// Annotate returns err as an *Error whose message starts with what was
// being done. It keeps err's reason; an error without one gets
// ReasonFailed. Only an *Error's reason and message reach the agent, so
// whatever explains the failure must be in the message.
func Annotate(err error, doing string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Reason: e.Reason, Message: doing + ": " + e.Message}
	}
	return Errorf(ReasonFailed, "%s: %v", doing, err)
}

// Redact replaces every occurrence of the secrets in s with [redacted],
// for messages that quote what a target said.
func Redact(s string, secrets ...Secret) string {
	for _, v := range secrets {
		if !v.IsEmpty() {
			s = strings.ReplaceAll(s, string(v.Reveal()), "[redacted]")
		}
	}
	return s
}

// IsTimeout reports whether err is a network operation that ran out of
// time: the call's context or a socket deadline passed.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// unreachableErrnos are the socket errors that mean no route to the
// target or nothing listening there.
var unreachableErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.EHOSTDOWN,
	syscall.ENETDOWN,
}

// IsUnreachable reports whether err says the target could not be reached:
// its name does not resolve, no route leads to it, or nothing listens on
// its port. A driver adds what its protocol means by a connection closed
// early.
func IsUnreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	for _, errno := range unreachableErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
