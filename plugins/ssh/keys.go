package ssh

import (
	"context"
	"fmt"
	"strings"

	"github.com/passman-dev/passman/plugins/sdk"
)

// addKeyScript appends the public key on its input to the authorized_keys
// file of account %[1]s, creating ~/.ssh (mode 700) and the file (mode
// 600) when missing and ending a last line that lacks its newline first.
const addKeyScript = `umask 077
d=~%[1]s/.ssh
f="$d/authorized_keys"
[ -d "$d" ] || mkdir -m 700 "$d" || exit 1
[ -e "$f" ] || : > "$f" || exit 1
if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >> "$f" || exit 1; fi
cat >> "$f"`

// removeKeyScript removes from the authorized_keys file of account %[1]s
// every line that holds the key on its input, whatever its options and
// comment. It writes a copy beside the file, with the file's mode, and
// renames it over the file, so that no reader sees half a file.
const removeKeyScript = `set -e
f=~%[1]s/.ssh/authorized_keys
t=$(mktemp "$f.XXXXXX")
trap 'rm -f "$t"' EXIT
cp -p "$f" "$t"
awk 'NR == FNR { k = $2; next }
	{ for (i = 1; i <= NF; i++) if ($i == k) next; print }' - "$f" > "$t"
mv -f "$t" "$f"`

// keyEditor runs a script that edits the account's authorized_keys file,
// as the account, with the given input.
type keyEditor func(ctx context.Context, script string, stdin []byte) (*output, error)

// changeKey logs in with the current key and replaces it with the new one
// in the account's authorized_keys file.
func changeKey(ctx context.Context, cfg *config, req *sdk.ChangeRequest) (string, error) {
	lines, err := keyLines(req)
	if err != nil {
		return "", err
	}
	c, err := dial(ctx, cfg, login{
		account: req.Account,
		cred:    sdk.Credential{Type: sdk.SSHKey, Value: req.Current},
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	edit := func(ctx context.Context, script string, stdin []byte) (*output, error) {
		return c.run(ctx, "sh -c "+shellQuote(script), stdin)
	}
	return rotateKey(ctx, cfg, req.Account, lines, edit)
}

// reconcileKey logs in as the reconcile account and replaces the account's
// key, editing its authorized_keys file as the account through su or
// sudo -u.
func reconcileKey(ctx context.Context, cfg *config, req *sdk.ChangeRequest) (string, error) {
	lines, err := keyLines(req)
	if err != nil {
		return "", err
	}
	c, err := dial(ctx, cfg, login{account: req.Reconcile.Account, cred: req.Reconcile.Credential})
	if err != nil {
		return "", err
	}
	defer c.Close()
	edit := func(ctx context.Context, script string, stdin []byte) (*output, error) {
		q := shellQuote(script)
		rootCmd := fmt.Sprintf("su -s /bin/sh -c %s %s", q, req.Account)
		sudoArgs := fmt.Sprintf("-u %s sh -c %s", req.Account, q)
		return c.elevate(ctx, cfg, req.Reconcile.Credential, rootCmd, sudoArgs, stdin)
	}
	return rotateKey(ctx, cfg, req.Account, lines, edit)
}

// rotateKey adds the new key, logs in with it and only then removes the
// current one, when there is one. When the login with the new key fails,
// it removes the new key again, so the account keeps the key it had.
func rotateKey(
	ctx context.Context, cfg *config, account string, keys *keyPair, edit keyEditor,
) (string, error) {
	if err := editKeys(ctx, edit, addKeyScript, account, keys.newLine); err != nil {
		return "", annotate(err, "adding the new key")
	}

	hostKey, err := verifyNew(ctx, cfg, account, keys.newCred)
	if err != nil {
		if rerr := editKeys(ctx, edit, removeKeyScript, account, keys.newLine); rerr != nil {
			return "", annotate(err, fmt.Sprintf("removing the new key again failed (%v)", rerr))
		}
		return "", err
	}

	if keys.oldLine != "" {
		if err := editKeys(ctx, edit, removeKeyScript, account, keys.oldLine); err != nil {
			return "", annotate(err, "the new key works, but removing the old one failed")
		}
	}
	return hostKey, nil
}

// keyPair is the new key of a change and the current one.
type keyPair struct {
	newCred sdk.Credential
	// newLine and oldLine are the keys' authorized_keys lines; oldLine
	// is empty when the request carries no current key.
	newLine, oldLine string
}

// keyLines parses the keys of a change request.
func keyLines(req *sdk.ChangeRequest) (*keyPair, error) {
	newLine, err := publicKeyLine(req.New)
	if err != nil {
		return nil, err
	}
	keys := &keyPair{newCred: sdk.Credential{Type: sdk.SSHKey, Value: req.New}, newLine: newLine}
	if req.Current.IsEmpty() {
		return keys, nil
	}
	if keys.oldLine, err = publicKeyLine(req.Current); err != nil {
		return nil, err
	}
	if keys.oldLine == newLine {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "the new key is the current one")
	}
	return keys, nil
}

// editKeys runs an authorized_keys script for account with a public key
// line as its input.
func editKeys(ctx context.Context, edit keyEditor, script, account, line string) error {
	out, err := edit(ctx, fmt.Sprintf(script, account), []byte(line+"\n"))
	if err != nil {
		return err
	}
	if out.status != 0 {
		return commandError("editing authorized_keys", out)
	}
	return nil
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
