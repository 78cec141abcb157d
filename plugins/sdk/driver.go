// Package sdk is what a PassMan driver author imports: the Driver interface
// a driver implements, the types it receives, the reason codes its errors
// carry, and Serve, which runs a driver as a plugin process that PassMan
// agents start and keep.
//
// A driver changes and checks credentials on one kind of target. It never
// stores anything: every request carries the target, the account and the
// credentials it needs, and credential values arrive as Secret, which
// never prints. A driver must not log a credential, put one in an error
// message, or pass one on a command line.
package sdk

import (
	"context"
	"fmt"

	"github.com/passman-dev/passman/internal/secret"
)

// Secret is a credential value. It prints as "[redacted]"; Reveal returns
// the bytes for the one place that must send them to the target.
type Secret = secret.Value

// NewSecret returns a Secret holding a copy of b.
func NewSecret(b []byte) Secret { return secret.New(b) }

// Credential types.
const (
	Password = "password"
	SSHKey   = "ssh-key"
	PIN      = "pin"
)

// Driver changes and checks credentials on one kind of target. Each method
// must return before ctx is done, and must be safe to call concurrently.
type Driver interface {
	// Describe says what the driver is and what its targets need.
	Describe(ctx context.Context) (*Description, error)
	// Check logs in to the target with a credential. It returns nil only
	// when the login succeeded.
	Check(ctx context.Context, req *CheckRequest) (*CheckResult, error)
	// Change sets a new credential on the target, logging in with the
	// current credential or, when Reconcile is set, with the reconcile
	// account. It returns nil only when the target holds the new value.
	Change(ctx context.Context, req *ChangeRequest) (*ChangeResult, error)
}

// Description is what Describe returns.
type Description struct {
	// Name is the driver's type name, as in passman target create --type.
	Name string
	// CredentialTypes lists the credential types the driver can manage.
	CredentialTypes []string
	// Params lists the target parameters the driver reads.
	Params []Param
	// Reconcile reports whether Change supports a reconcile account.
	Reconcile bool
}

// Param describes one target parameter.
type Param struct {
	Name        string
	Description string
	Required    bool
}

// Target is where a credential lives.
type Target struct {
	// Address is the target's host or host:port.
	Address string
	// Params are the target's parameters, as described by Describe.
	Params map[string]string
	// HostKey is the host key PassMan pinned for the target, in the
	// protocol's own text form, or empty when none is pinned yet.
	HostKey string
}

// Credential is one credential of an account.
type Credential struct {
	Type  string
	Value Secret
}

// Login is an account and a credential to log in with.
type Login struct {
	Account    string
	Credential Credential
}

// CheckRequest asks a driver to log in with a credential.
type CheckRequest struct {
	JobID   string
	Target  Target
	Account string
	// Credential is the one to try.
	Credential Credential
}

// CheckResult is what a successful Check learned.
type CheckResult struct {
	// HostKey is the host key the target presented, for PassMan to pin
	// when none is pinned yet. Empty for protocols without one.
	HostKey string
}

// ChangeRequest asks a driver to set a new credential.
type ChangeRequest struct {
	JobID   string
	Target  Target
	Account string
	// Type is the credential type to change.
	Type string
	// Current is the account's current credential of Type. It may be empty
	// when Reconcile is set.
	Current Secret
	// New is the value to set.
	New Secret
	// Reconcile, when set, is the account to log in with instead.
	Reconcile *Login
}

// ChangeResult is what a successful Change learned.
type ChangeResult struct {
	HostKey string
}

// Reason is a stable code for why a check or change failed.
type Reason string

// The reasons a driver reports. PassMan shows them as the credential's
// status reason.
const (
	ReasonAuthFailed      Reason = "auth_failed"       // the target refused the credential
	ReasonUnreachable     Reason = "unreachable"       // no connection to the target
	ReasonTimeout         Reason = "timeout"           // the target did not answer in time
	ReasonHostKeyMismatch Reason = "host_key_mismatch" // the target's host key is not the pinned one
	ReasonLockedOut       Reason = "locked_out"        // the account is locked or disabled
	ReasonUnsupported     Reason = "unsupported"       // the driver cannot do this
	ReasonInvalidParams   Reason = "invalid_params"    // the target's parameters are wrong
	ReasonRejected        Reason = "rejected"          // the target refused the new value (its own policy)
	ReasonFailed          Reason = "failed"            // anything else; the message says what
)

// Error is a failure with a reason. Its message must never contain a
// credential.
type Error struct {
	Reason  Reason
	Message string
}

// Error returns the message prefixed with the reason.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// Errorf returns an *Error with a reason and a formatted message.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
