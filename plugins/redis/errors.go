package redis

import (
	"context"
	"errors"
	"io"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passman-dev/passman/plugins/sdk"
)

// classify turns a failure to reach the server, log in or run a command
// into an *sdk.Error with the reason the credential's status should
// show. ctx is the one that bounded the attempt. The server's words are
// quoted with secrets redacted: Redis quotes a faulty ACL rule, password
// and all, in its answer.
//
// Redis answers WRONGPASS both to a wrong password and to a user that is
// disabled, so a disabled account shows as auth_failed.
func classify(ctx context.Context, err error, secrets ...sdk.Secret) error {
	said := sdk.Redact(err.Error(), secrets...)
	switch {
	case sdk.IsTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return sdk.Errorf(sdk.ReasonTimeout, "no answer from the target in time: %s", said)
	case ctx.Err() != nil:
		return sdk.Errorf(sdk.ReasonFailed, "cancelled: %v", context.Cause(ctx))
	case goredis.IsAuthError(err):
		return sdk.Errorf(sdk.ReasonAuthFailed, "the target refused the credential: %s", said)
	case sdk.IsUnreachable(err):
		return sdk.Errorf(sdk.ReasonUnreachable, "%s", said)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return sdk.Errorf(sdk.ReasonFailed, "the target closed the connection (%s); "+
			"a server that serves TLS does so to a client that does not, so check %s",
			said, paramTLS)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%s", said)
}

// selectError explains why SELECT of the db parameter's database failed
// after the login had worked.
func selectError(ctx context.Context, err error, db int) error {
	if isServerError(err) {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"logged in, but the target refused to select database %d: %v", db, err)
	}
	return classify(ctx, err)
}

// setUserError explains why ACL SETUSER or ACL GETUSER failed. self says
// whether the account was changing its own password; otherwise the
// reconcile account was.
//
// Redis has no command by which a user changes only its own password: it
// takes ACL SETUSER, which lets the user change any user. An account
// without that permission cannot change its password itself, which is
// unsupported rather than a refused credential; a reconcile account
// without it is a refusal by the target's ACL.
func setUserError(ctx context.Context, err error, self bool, secrets ...sdk.Secret) error {
	switch {
	case goredis.IsPermissionError(err) && self:
		return sdk.Errorf(sdk.ReasonUnsupported, "the account may not run ACL SETUSER, "+
			"so it cannot change its own password: give the target a reconcile account "+
			"allowed +acl|getuser and +acl|setuser, and reset through it")
	case goredis.IsPermissionError(err):
		return sdk.Errorf(sdk.ReasonRejected, "the reconcile account may not change ACL "+
			"users: allow it +acl|getuser and +acl|setuser")
	case isServerError(err):
		return sdk.Errorf(sdk.ReasonFailed, "the target refused the ACL command: %s",
			sdk.Redact(err.Error(), secrets...))
	}
	return classify(ctx, err, secrets...)
}

// persistError explains why saving a change failed. The server holds the
// new password in its memory by then, but would lose it in a restart.
func persistError(ctx context.Context, err error, how string) error {
	command := map[string]string{persistACLSave: "ACL SAVE",
		persistConfigRewrite: "CONFIG REWRITE"}[how]
	switch {
	case goredis.IsPermissionError(err):
		return sdk.Errorf(sdk.ReasonRejected, "the password was changed in the server's "+
			"memory, but the account may not run %s to save it: allow it that command, "+
			"or set %s to another value", command, paramPersist)
	case isServerError(err):
		return sdk.Errorf(sdk.ReasonFailed, "the password was changed in the server's "+
			"memory, but %s failed: %v", command, err)
	}
	return sdk.Annotate(classify(ctx, err), "saving the change with "+command)
}

// isServerError reports whether err is an error answer of the server,
// rather than a failure to talk to it.
func isServerError(err error) bool {
	var e goredis.Error
	return errors.As(err, &e)
}
