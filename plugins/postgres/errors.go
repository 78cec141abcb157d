package postgres

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/passman-dev/passman/plugins/sdk"
)

// SQLSTATE codes the driver tells apart.
const (
	codeInvalidPassword      = "28P01" // the password is wrong, or the role has none or expired
	codeInvalidAuthorization = "28000" // no such role, no pg_hba.conf entry, NOLOGIN
	codeInsufficientPriv     = "42501" // the logged-in role may not do this
	codeUndefinedDatabase    = "3D000" // no such database
	codeUndefinedObject      = "42704" // no such role, in ALTER ROLE
	codeCannotConnectNow     = "57P03" // the server is starting or stopping
	classDataException       = "22"    // a value refused, as by the passwordcheck module
)

// notPermittedToLogIn is how the server says that a role has NOLOGIN.
const notPermittedToLogIn = "not permitted to log in"

// requireAuthFailed starts pgx's error when the server asked for another
// authentication method than scram-sha-256.
const requireAuthFailed = "authentication method requirement"

// classify turns a failed login into an *sdk.Error with the reason the
// credential's status should show. ctx is the caller's context, dialCtx
// the one bounded by the connect timeout.
func classify(ctx, dialCtx context.Context, err error) error {
	var pe *pgconn.PgError
	switch {
	case ctx.Err() != nil:
		return contextError(ctx)
	case errors.As(err, &pe):
		return loginError(pe)
	case dialCtx.Err() != nil || isTimeout(err):
		return sdk.Errorf(sdk.ReasonTimeout, "no answer from the server in time: %s", describe(err))
	case strings.Contains(err.Error(), requireAuthFailed):
		return sdk.Errorf(sdk.ReasonUnsupported,
			"the driver logs in with scram-sha-256 only: %s", describe(err))
	case isUnreachable(err):
		return sdk.Errorf(sdk.ReasonUnreachable, "%s", describe(err))
	}
	return sdk.Errorf(sdk.ReasonFailed, "connecting: %s", describe(err))
}

// loginError maps what the server answered to a login.
func loginError(pe *pgconn.PgError) error {
	switch {
	case pe.Code == codeInvalidPassword:
		return sdk.Errorf(sdk.ReasonAuthFailed, "the server refused the password: %s", pe.Message)
	case pe.Code == codeInvalidAuthorization && strings.Contains(pe.Message, notPermittedToLogIn):
		return sdk.Errorf(sdk.ReasonLockedOut, "%s", pe.Message)
	case pe.Code == codeInvalidAuthorization, pe.Code == codeInsufficientPriv:
		return sdk.Errorf(sdk.ReasonAuthFailed, "the server refused the login: %s", pe.Message)
	case pe.Code == codeUndefinedDatabase:
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s; set the %s parameter",
			pe.Message, paramDatabase)
	case pe.Code == codeCannotConnectNow:
		return sdk.Errorf(sdk.ReasonUnreachable, "%s", pe.Message)
	}
	return sdk.Errorf(sdk.ReasonFailed, "logging in: %s (SQLSTATE %s)", pe.Message, pe.Code)
}

// statementError maps the failure of a statement run after the login.
// A logged-in role that may not change the password, or a value the
// server's own rules refuse, is rejected: the server refused the change
// itself, not the credential the driver logged in with.
func statementError(ctx context.Context, doing string, err error) error {
	var pe *pgconn.PgError
	switch {
	case ctx.Err() != nil:
		return contextError(ctx)
	case !errors.As(err, &pe):
		if isTimeout(err) {
			return sdk.Errorf(sdk.ReasonTimeout, "%s: %s", doing, describe(err))
		}
		return sdk.Errorf(sdk.ReasonFailed, "%s: %s", doing, describe(err))
	case pe.Code == codeInsufficientPriv:
		return sdk.Errorf(sdk.ReasonRejected, "%s: %s; the role logged in needs CREATEROLE "+
			"and the right to administer that role, or superuser", doing, pe.Message)
	case strings.HasPrefix(pe.Code, classDataException):
		return sdk.Errorf(sdk.ReasonRejected, "%s: %s", doing, pe.Message)
	case pe.Code == codeUndefinedObject:
		return sdk.Errorf(sdk.ReasonFailed, "%s: %s", doing, pe.Message)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%s: %s (SQLSTATE %s)", doing, pe.Message, pe.Code)
}

// contextError reports why ctx is done.
func contextError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before the server answered")
	}
	return sdk.Errorf(sdk.ReasonFailed, "cancelled: %v", context.Cause(ctx))
}

func isTimeout(err error) bool {
	return pgconn.Timeout(err) || sdk.IsTimeout(err)
}

// isUnreachable reports whether err means the server could not be
// reached, or closed the connection before it said anything.
func isUnreachable(err error) bool {
	return sdk.IsUnreachable(err) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// refusedTLS is pgx's error when the server does not offer TLS. Under
// sslmode prefer it only means that the next attempt is without TLS.
const refusedTLS = "server refused TLS connection"

// describe returns err's text for a message on one line, without pgx's
// preamble naming the user and database. Of the attempts pgx made, it
// keeps each distinct failure once, leaving out a refusal of TLS that
// was followed by an attempt without it.
func describe(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	var parts []string
	attempts := joined.Unwrap()
	for i, e := range attempts {
		text := strings.ReplaceAll(e.Error(), "\n", "; ")
		if strings.Contains(text, refusedTLS) && i < len(attempts)-1 ||
			slices.Contains(parts, text) {
			continue
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "; ")
}
