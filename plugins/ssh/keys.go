package ssh

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// keyEditor runs a script that edits the account's authorized_keys file,
// as the account, with the given input.
type keyEditor func(ctx context.Context, script string, stdin []byte) (*output, error)

// changeKey logs in with the current key and replaces it with the new one
// in the account's authorized_keys file.
func changeKey(
	ctx context.Context, log hclog.Logger, cfg *config, req *sdk.ChangeRequest,
) (string, error) {
	keys, err := parseKeys(req)
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
	return rotateKey(ctx, log, cfg, req.Account, keys, edit)
}

// reconcileKey logs in as the reconcile account and replaces the account's
// key, editing its authorized_keys file as the account through su or
// sudo -u.
func reconcileKey(
	ctx context.Context, log hclog.Logger, cfg *config, req *sdk.ChangeRequest,
) (string, error) {
	keys, err := parseKeys(req)
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
	return rotateKey(ctx, log, cfg, req.Account, keys, edit)
}

// rotateKey reads the account's authorized_keys file, works out the file
// with the managed key replaced and swaps it in.
func rotateKey(
	ctx context.Context, log hclog.Logger, cfg *config, account string,
	keys *keyPair, edit keyEditor,
) (string, error) {
	before, err := readKeyFile(ctx, edit, account)
	if err != nil {
		return "", sdk.Annotate(err, "reading authorized_keys")
	}
	after := replaceManaged(before.content, keys)

	// A login with the current key that works while the key is not in
	// the file comes from elsewhere (another keys file, a certificate),
	// where the driver cannot remove it.
	if !keys.reconcile && !after.foundCurrent {
		return "", sdk.Errorf(sdk.ReasonFailed, "the current key logs in, but it is not in "+
			"~/.ssh/authorized_keys, so the driver cannot replace it there")
	}
	log.Debug("replacing the managed key", "replaced", after.replaced, "kept", after.kept)
	if after.replaced == 0 && after.kept > 0 {
		log.Warn("no key of the account is managed yet; its other keys stay authorized",
			"other_keys", after.kept)
	}
	return swapKeys(ctx, cfg, account, keys, edit, before, after.content)
}

// swapKeys writes the new authorized_keys file in one step, then logs in
// with the new key on a connection of its own. When that login fails, or
// the deadline comes before it succeeds, it writes the previous file
// back, so that the account ends with the new file confirmed or with the
// file it had. Time for that is kept back from the deadline; when even
// that runs out, the target holds one of the two files, whole, and the
// change ends with timeout for PassMan to settle which key works.
func swapKeys(
	ctx context.Context, cfg *config, account string, keys *keyPair, edit keyEditor,
	before *keyFile, after []byte,
) (string, error) {
	if err := contextError(ctx); err != nil {
		return "", err
	}
	swapCtx, cancel := withRestoreReserve(ctx)
	defer cancel()

	err := writeKeyFile(swapCtx, edit, account, before.state, cksum(after), after)
	if err != nil {
		err = sdk.Annotate(err, "writing the new authorized_keys")
		// Only a write cut short may have happened.
		if swapCtx.Err() == nil {
			return "", err
		}
		return "", restoreKeys(ctx, edit, account, before, after, err)
	}
	hostKey, err := verifyNew(swapCtx, cfg, account, keys.newCred)
	if err != nil {
		return "", restoreKeys(ctx, edit, account, before, after, err)
	}
	return hostKey, nil
}

// restoreKeys writes the previous authorized_keys file back in place of
// the new one, when the file holds the new one, and returns cause with
// what became of the previous file.
func restoreKeys(
	ctx context.Context, edit keyEditor, account string,
	before *keyFile, after []byte, cause error,
) error {
	err := writeKeyFile(ctx, edit, account, cksum(after), before.state, before.content)
	if err != nil {
		return sdk.Annotate(cause, fmt.Sprintf(
			"putting the previous authorized_keys back failed (%v)", err))
	}
	return sdk.Annotate(cause, "the previous authorized_keys is back in place")
}

// maxRestoreReserve bounds the time kept back from a change's deadline
// for putting the previous authorized_keys file back.
const maxRestoreReserve = 5 * time.Second

// withRestoreReserve returns a context that ends before ctx's deadline by
// half the time left, or by maxRestoreReserve when that is less.
func withRestoreReserve(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(time.Until(deadline)/2, maxRestoreReserve)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

// keyPair is the new key of a change and the current one.
type keyPair struct {
	newCred sdk.Credential
	newKey  xssh.PublicKey
	// newLine is the new key's authorized_keys line.
	newLine string
	// oldKey is the current key, or nil when the request carries none.
	oldKey xssh.PublicKey
	// reconcile says the change goes through the reconcile account.
	reconcile bool
}

// parseKeys parses the keys of a change request.
func parseKeys(req *sdk.ChangeRequest) (*keyPair, error) {
	next, err := parseKey(req.New)
	if err != nil {
		return nil, err
	}
	keys := &keyPair{
		newCred:   sdk.Credential{Type: sdk.SSHKey, Value: req.New},
		newKey:    next.PublicKey(),
		newLine:   authorizedLine(next.PublicKey()),
		reconcile: req.Reconcile != nil,
	}
	if req.Current.IsEmpty() {
		return keys, nil
	}
	current, err := parseKey(req.Current)
	if err != nil {
		return nil, err
	}
	keys.oldKey = current.PublicKey()
	if sameKey(keys.oldKey, keys.newKey) {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "the new key is the current one")
	}
	return keys, nil
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
