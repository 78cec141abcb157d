package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/plugins/sdk"
)

// operation is a step of a check or a change, named in error messages.
type operation int

// The steps of a check or a change.
const (
	opConnect operation = iota
	opTLS
	opStartTLS
	opBind
	opReconcileBind
	opModify
	opVerify
)

func (o operation) String() string {
	switch o {
	case opConnect:
		return "connecting"
	case opTLS:
		return "negotiating TLS"
	case opStartTLS:
		return "starting TLS"
	case opBind:
		return "binding as the account"
	case opReconcileBind:
		return "binding as the reconcile account"
	case opModify:
		return "changing the password"
	case opVerify:
		return "binding with the new password"
	}
	return "talking to the directory"
}

// isBind reports whether o is a simple bind.
func (o operation) isBind() bool {
	return o == opBind || o == opReconcileBind || o == opVerify
}

// lockedDiagnostics are what Active Directory puts in the diagnostic
// message of a refused bind when the password may be right but the
// account cannot use it: locked, disabled, expired, or its password
// expired or due to be reset.
var lockedDiagnostics = []string{"data 775", "data 533", "data 701", "data 532", "data 773"}

// classify turns a failed step into an *sdk.Error with the reason the
// credential's status should show. ctx is the caller's context, within
// the one that bounded the step.
func classify(ctx, within context.Context, err error, op operation) error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return contextError(ctx, op)
	case within.Err() != nil || sdk.IsTimeout(err):
		return sdk.Errorf(sdk.ReasonTimeout, "%s: no answer from the directory in time", op)
	}
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode < goldap.ErrorNetwork {
		return resultError(le, op)
	}
	switch {
	case isUnreachable(err):
		return sdk.Errorf(sdk.ReasonUnreachable, "%s: %v", op, err)
	case op == opTLS || op == opStartTLS:
		return sdk.Errorf(sdk.ReasonFailed, "%s: %v", op, err)
	case errors.As(err, &le) && le.ResultCode == goldap.ErrorNetwork:
		// The client library reports a connection the directory
		// dropped this way, with the cause as text only.
		return sdk.Errorf(sdk.ReasonUnreachable, "%s: the connection was lost: %v", op, err)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%s: %v", op, err)
}

// contextError reports why ctx is done.
func contextError(ctx context.Context, op operation) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sdk.Errorf(sdk.ReasonTimeout,
			"%s: the deadline passed before the directory answered", op)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%s: cancelled: %v", op, context.Cause(ctx))
}

// isUnreachable reports whether err means the directory could not be
// reached, counting a connection reset before it answered.
func isUnreachable(err error) bool {
	return sdk.IsUnreachable(err) || errors.Is(err, syscall.ECONNRESET)
}

// resultError maps a result code the directory sent back.
func resultError(le *goldap.Error, op operation) error {
	code := le.ResultCode
	msg := fmt.Sprintf("%s: %s (result %d)", op, goldap.LDAPResultCodeMap[code], code)
	diag := diagnostic(le)
	if diag != "" {
		msg += ": " + diag
	}
	switch code {
	case goldap.LDAPResultStrongAuthRequired, goldap.LDAPResultConfidentialityRequired:
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"%s; the directory wants a protected connection: set %s", msg, paramTLS)
	case goldap.LDAPResultBusy, goldap.LDAPResultUnavailable:
		if op != opStartTLS {
			return sdk.Errorf(sdk.ReasonUnreachable, "%s", msg)
		}
	}
	switch {
	case op.isBind():
		return &sdk.Error{Reason: bindReason(code, diag), Message: msg}
	case op == opModify:
		return &sdk.Error{Reason: modifyReason(code), Message: msg}
	}
	return &sdk.Error{Reason: sdk.ReasonFailed, Message: msg}
}

// diagnostic returns the directory's diagnostic message in le.
func diagnostic(le *goldap.Error) string {
	if le.Err == nil {
		return ""
	}
	return le.Err.Error()
}

// bindReason is the reason of a refused bind.
func bindReason(code uint16, diag string) sdk.Reason {
	switch code {
	case goldap.LDAPResultInvalidCredentials:
		for _, d := range lockedDiagnostics {
			if strings.Contains(diag, d) {
				return sdk.ReasonLockedOut
			}
		}
		return sdk.ReasonAuthFailed
	case goldap.LDAPResultInappropriateAuthentication:
		return sdk.ReasonAuthFailed
	case goldap.LDAPResultConstraintViolation, goldap.LDAPResultUnwillingToPerform:
		// What several directories answer a locked or deactivated entry.
		return sdk.ReasonLockedOut
	}
	return sdk.ReasonFailed
}

// modifyReason is the reason of a refused Password Modify operation.
func modifyReason(code uint16) sdk.Reason {
	switch code {
	case goldap.LDAPResultConstraintViolation, goldap.LDAPResultInsufficientAccessRights,
		goldap.LDAPResultUnwillingToPerform:
		return sdk.ReasonRejected
	case goldap.LDAPResultInvalidCredentials:
		return sdk.ReasonAuthFailed
	case goldap.LDAPResultProtocolError, goldap.LDAPResultUnavailableCriticalExtension,
		goldap.LDAPResultNotSupported:
		return sdk.ReasonUnsupported
	}
	return sdk.ReasonFailed
}

// bindError refines a refused bind with the password policy's verdict,
// when the directory sent one: a locked entry or an expired password
// refuses even the right password.
func bindError(err error, res *goldap.SimpleBindResult) error {
	var se *sdk.Error
	if res == nil || !errors.As(err, &se) || se.Reason != sdk.ReasonAuthFailed {
		return err
	}
	c, ok := goldap.FindControl(res.Controls,
		goldap.ControlTypeBeheraPasswordPolicy).(*goldap.ControlBeheraPasswordPolicy)
	if !ok || (c.Error != 0 && c.Error != 1) {
		return err
	}
	return sdk.Errorf(sdk.ReasonLockedOut, "%s: %s", se.Message, c.ErrorString)
}

// redact replaces every occurrence of the secrets in err's message,
// for messages that quote what the directory said.
func redact(err error, secrets ...sdk.Secret) error {
	var se *sdk.Error
	if !errors.As(err, &se) {
		return err
	}
	return &sdk.Error{Reason: se.Reason, Message: sdk.Redact(se.Message, secrets...)}
}
