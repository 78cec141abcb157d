package ssh

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Errors that stop a login or a change early. classify and the dialog's
// result turn them into reasons.
var (
	// errHostKeyMismatch stops a handshake with a target whose host key
	// is not the pinned one.
	errHostKeyMismatch = errors.New("host key mismatch")
	// errPasswordRefused stops a second try of a password the target
	// already refused through another method.
	errPasswordRefused = errors.New("the password was refused")
	// errNewPassword means the target asked for a new password during
	// the login, as it does when the current one has expired.
	errNewPassword = errors.New("the target asks for a new password")
	// errUnexpectedPrompt means keyboard-interactive asked something the
	// driver cannot answer.
	errUnexpectedPrompt = errors.New("the target asked an unexpected question")
	// errAskedCurrentAgain means passwd asked for the current password a
	// second time: it refused the one given.
	errAskedCurrentAgain = errors.New("passwd refused the current password")
	// errAskedNewAgain means passwd asked for the new password a third
	// time: it refused the new one, usually for its quality.
	errAskedNewAgain = errors.New("passwd refused the new password")
)

// classify turns a failed login into an *sdk.Error with the reason the
// credential's status should show. ctx is the caller's context, dialCtx
// the one bounded by the connect timeout.
func classify(ctx, dialCtx context.Context, err error, hk *hostKeyCheck, auth *authState) error {
	observed, mismatch := hk.seen()
	switch {
	case mismatch:
		return hk.mismatchError()
	case ctx.Err() != nil:
		return contextError(ctx)
	case dialCtx.Err() != nil || sdk.IsTimeout(err):
		return sdk.Errorf(sdk.ReasonTimeout, "no answer from the target in time: %v", err)
	case errors.Is(err, errNewPassword):
		return sdk.Errorf(sdk.ReasonLockedOut,
			"the target wants a new password before login; it may have expired")
	case isAuthFailure(err), isBareKeyboardFailure(err) && auth.triedPassword():
		return sdk.Errorf(sdk.ReasonAuthFailed, "the target refused the credential")
	case isBareKeyboardFailure(err):
		return sdk.Errorf(sdk.ReasonFailed, "the target offers no password login: "+
			"it ended keyboard-interactive login without asking for the password")
	case isUnreachable(err, observed):
		return sdk.Errorf(sdk.ReasonUnreachable, "%v", err)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%v", err)
}

// contextError reports why ctx is done, or nil when it is not.
func contextError(ctx context.Context) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before the target answered")
	case ctx.Err() != nil:
		return sdk.Errorf(sdk.ReasonFailed, "cancelled: %v", context.Cause(ctx))
	}
	return nil
}

func isAuthFailure(err error) bool {
	return errors.Is(err, errPasswordRefused) ||
		errors.Is(err, errUnexpectedPrompt) ||
		strings.Contains(err.Error(), "unable to authenticate")
}

// bareKeyboardFailure is how x/crypto/ssh reports a keyboard-interactive
// login that the target refused before asking anything, as OpenSSH does
// without PAM: a failure message (type 51) where it expected a question
// (type 60). The login ends there, with that error, even when the
// password method was tried first and refused.
const bareKeyboardFailure = "unexpected message type 51 (expected 60)"

func isBareKeyboardFailure(err error) bool {
	return strings.Contains(err.Error(), bareKeyboardFailure)
}

// isUnreachable reports whether err means the target could not be
// reached. A connection closed before the target showed its host key
// counts: something refused it before SSH began.
func isUnreachable(err error, observed bool) bool {
	return sdk.IsUnreachable(err) ||
		!observed && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

// lastLines returns the last n non-empty lines of s, joined by "; ",
// for an error message.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "; ")
}
