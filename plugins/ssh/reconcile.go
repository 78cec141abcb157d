package ssh

import (
	"context"
	"strings"

	"github.com/passman-dev/passman/plugins/sdk"
)

// sudoBase starts every sudo command line. Messages in the C locale let
// the driver read sudo's answer whatever the target's language.
const sudoBase = "env LC_ALL=C sudo "

// reconcilePassword logs in as the reconcile account, sets the account's
// password with chpasswd as root and then logs in as the account with it.
func reconcilePassword(ctx context.Context, cfg *config, req *sdk.ChangeRequest) (string, error) {
	c, err := dial(ctx, cfg, login{account: req.Reconcile.Account, cred: req.Reconcile.Credential})
	if err != nil {
		return "", err
	}
	stdin := input([]byte(req.Account+":"), req.New.Reveal(), newline)
	defer clear(stdin)
	out, err := c.elevate(ctx, cfg, req.Reconcile.Credential, "chpasswd", "chpasswd", stdin)
	_ = c.Close()
	if err != nil {
		return "", err
	}
	if out.status != 0 {
		return "", commandError("chpasswd", out, req.New, req.Reconcile.Credential.Value)
	}
	return verifyNew(ctx, cfg, req.Account, sdk.Credential{Type: sdk.Password, Value: req.New})
}

// elevate runs a command as root, or as another account, for the
// reconcile account logged in on c. With the root method it runs
// rootCommand as it is; with sudo it runs sudo with sudoArgs.
//
// sudo is first asked not to prompt. Only when it answers that it needs
// a password, and the reconcile credential is one, is the password
// checked with sudo -v and then sent as the first line of the input. A
// password is thus never sent to a sudo that would not read it and would
// hand it to the command instead.
func (c *conn) elevate(
	ctx context.Context, cfg *config, rec sdk.Credential,
	rootCommand, sudoArgs string, stdin []byte,
) (*output, error) {
	if cfg.reconcileMethod == methodRoot {
		return c.run(ctx, rootCommand, stdin)
	}
	out, err := c.run(ctx, sudoBase+"-n "+sudoArgs, stdin)
	if err != nil || out.status == 0 || !needsPassword(out) || rec.Type != sdk.Password {
		return out, err
	}

	pw := input(rec.Value.Reveal(), newline)
	defer clear(pw)
	check, err := c.run(ctx, sudoBase+"-k -S -p '' -v", pw)
	if err != nil {
		return nil, err
	}
	if check.status != 0 {
		return nil, sudoRefusal(check, rec.Value)
	}

	full := input(rec.Value.Reveal(), newline, stdin)
	defer clear(full)
	return c.run(ctx, sudoBase+"-k -S -p '' "+sudoArgs, full)
}

// sudoRefusal explains why sudo -v refused the reconcile account.
func sudoRefusal(out *output, pw sdk.Secret) error {
	said := sdk.Redact(lastLines(out.stderr, 2), pw)
	if strings.Contains(out.stderr, "incorrect password") {
		return sdk.Errorf(sdk.ReasonAuthFailed,
			"sudo refused the reconcile account's password: %s", said)
	}
	return sdk.Errorf(sdk.ReasonFailed, "sudo refused the reconcile account: %s", said)
}

// needsPassword reports whether sudo -n failed for want of a password.
func needsPassword(out *output) bool {
	return strings.Contains(out.stderr, "password is required")
}

// commandError reports a remote command that exited with an error, as
// rejected when its output reads like a refusal of the new value.
func commandError(name string, out *output, secrets ...sdk.Secret) error {
	said := sdk.Redact(lastLines(out.stderr+"\n"+out.stdout, 3), secrets...)
	if refusal(out.stderr + out.stdout) {
		return sdk.Errorf(sdk.ReasonRejected, "%s refused the change: %s", name, said)
	}
	return sdk.Errorf(sdk.ReasonFailed, "%s exited with status %d: %s", name, out.status, said)
}

// newline ends a line of input.
var newline = []byte("\n")

// input concatenates parts into the input of a remote command. Its result
// holds secrets: the caller clears it.
func input(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
