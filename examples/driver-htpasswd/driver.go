package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name: targets use it as --type, and the
// plugin's file is named passman-driver-htpasswd after it.
const Name = "htpasswd"

// ParamPath is the target parameter that names the htpasswd file.
const ParamPath = "path"

// logger is the driver's logger. It writes to the plugin's stderr, which
// the agent reads. It never gets a password.
var logger = sdk.Logger("")

// Driver manages bcrypt passwords in htpasswd files. Use New.
type Driver struct {
	// locks holds a *sync.Mutex per file, so that two changes to one
	// file run one after the other.
	locks sync.Map
}

// New returns an htpasswd driver.
func New() *Driver { return &Driver{} }

// Describe says what the driver manages and which parameters it reads.
func (d *Driver) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:            Name,
		CredentialTypes: []string{sdk.Password},
		Params: []sdk.Param{{
			Name:        ParamPath,
			Description: "absolute path of the htpasswd file on the agent's host",
			Required:    true,
		}},
	}, nil
}

// Check succeeds when the account's entry holds the password.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	path, err := validate(ctx, req.Target, req.Account, req.Credential.Type)
	if err != nil {
		return nil, err
	}
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	e, err := f.entry(req.Account)
	if err != nil {
		return nil, err
	}
	if err := compare(e.hash, req.Credential.Value); err != nil {
		return nil, err
	}
	logger.Debug("password checked", "job_id", req.JobID, "path", path, "account", req.Account)
	return &sdk.CheckResult{}, nil
}

// Change replaces the account's hash with one of the new password, after
// checking the current password against the old hash. The file is
// rewritten as a whole, through a temporary file and a rename, so that a
// reader sees the old file or the new one.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	path, err := validate(ctx, req.Target, req.Account, req.Type)
	switch {
	case err != nil:
		return nil, err
	case req.Reconcile != nil:
		return nil, sdk.Errorf(sdk.ReasonUnsupported,
			"the htpasswd driver has no reconcile account")
	case req.New.IsEmpty():
		return nil, sdk.Errorf(sdk.ReasonRejected, "the new password is empty")
	}
	defer d.lock(path)()

	if err := change(ctx, path, req); err != nil {
		return nil, err
	}
	logger.Info("password changed", "job_id", req.JobID, "path", path, "account", req.Account)
	return &sdk.ChangeResult{}, nil
}

// change does the work of Change under the file's lock.
func change(ctx context.Context, path string, req *sdk.ChangeRequest) error {
	f, err := readFile(path)
	if err != nil {
		return err
	}
	e, err := f.entry(req.Account)
	if err != nil {
		return err
	}
	if err := compare(e.hash, req.Current); err != nil {
		return annotate(err, "nothing changed")
	}
	hash, err := bcrypt.GenerateFromPassword(req.New.Reveal(), bcrypt.DefaultCost)
	switch {
	case errors.Is(err, bcrypt.ErrPasswordTooLong):
		return sdk.Errorf(sdk.ReasonRejected, "bcrypt takes passwords of at most 72 bytes")
	case err != nil:
		return sdk.Errorf(sdk.ReasonFailed, "hashing the new password: %v", err)
	}
	// The last moment to give up: from here on the file changes.
	if ctx.Err() != nil {
		return sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before writing; nothing changed")
	}
	if err := f.replace(e, hash); err != nil {
		return sdk.Errorf(sdk.ReasonFailed, "writing %s: %v; nothing changed", path, err)
	}
	return nil
}

// validate checks what Check and Change have in common and returns the
// file's path.
func validate(ctx context.Context, t sdk.Target, account, credType string) (string, error) {
	path := t.Params[ParamPath]
	switch {
	case ctx.Err() != nil:
		return "", sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before the driver started")
	case credType != sdk.Password:
		return "", sdk.Errorf(sdk.ReasonUnsupported,
			"htpasswd files hold passwords, not %q", credType)
	case path == "":
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "the %s parameter is required", ParamPath)
	case !filepath.IsAbs(path):
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "%s %q is not absolute", ParamPath, path)
	case account == "" || strings.ContainsAny(account, ":\r\n"):
		return "", sdk.Errorf(sdk.ReasonInvalidParams,
			"account %q cannot be an htpasswd user name", account)
	}
	return filepath.Clean(path), nil
}

// compare checks a password against a bcrypt hash.
func compare(hash []byte, password sdk.Secret) error {
	err := bcrypt.CompareHashAndPassword(hash, password.Reveal())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return sdk.Errorf(sdk.ReasonAuthFailed, "the password does not match the entry")
	}
	return sdk.Errorf(sdk.ReasonUnsupported, "the entry is not a bcrypt hash the driver can read")
}

// annotate adds a note to the message of an *sdk.Error.
func annotate(err error, note string) error {
	var e *sdk.Error
	if errors.As(err, &e) {
		return &sdk.Error{Reason: e.Reason, Message: e.Message + "; " + note}
	}
	return err
}

// lock locks the file at path against other changes and returns the
// function that unlocks it.
func (d *Driver) lock(path string) func() {
	v, _ := d.locks.LoadOrStore(path, new(sync.Mutex))
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
