// Package file is PassMan's file driver: it manages a password or a PIN
// kept as one entry of a configuration file on the agent's own host, such
// as a database password in an application's .env, INI, properties or
// YAML file.
//
// A check reads the file and succeeds when the entry holds the credential.
// A change first checks the current credential, then rewrites just that
// entry's value, quoted as the file's format needs, and leaves every other
// byte as it was. The new file is written beside the old one, synced, given
// the old one's mode and owner, and renamed over it, so that a reader sees
// the old file or the new one and never a mix. The driver cannot log in as
// another account, so it has no reconcile account.
package file

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Name is the driver's type name.
const Name = "file"

// The target parameters the driver reads.
const (
	ParamPath   = "path"
	ParamKey    = "key"
	ParamFormat = "format"
)

// Driver is the file driver. The zero value is not usable; use New.
type Driver struct {
	log hclog.Logger
	// locks holds a *sync.Mutex per file, so that two changes to one file
	// do not interleave.
	locks sync.Map
}

// New returns a file driver that logs through the SDK's logger.
func New() *Driver { return NewWithLogger(sdk.Logger("")) }

// NewWithLogger returns a file driver that logs to log.
func NewWithLogger(log hclog.Logger) *Driver { return &Driver{log: log} }

// Describe says what the file driver manages and what its targets need.
func (d *Driver) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:            Name,
		CredentialTypes: []string{sdk.Password, sdk.PIN},
		Params: []sdk.Param{
			{
				Name:        ParamPath,
				Description: "absolute path of the file on the agent's host",
				Required:    true,
			},
			{
				Name: ParamKey,
				Description: "the entry that holds the credential: its name; section.name " +
					"in an INI file; a dotted path such as db.password in a YAML file",
				Required: true,
			},
			{
				Name: ParamFormat,
				Description: "env, ini, properties or yaml; by default the file's " +
					"extension tells (.env, .ini or .conf, .properties, .yaml or .yml)",
			},
		},
	}, nil
}

// Check succeeds when the file holds the credential under the key.
func (d *Driver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	p, err := checkRequest(ctx, req.Target, req.Credential.Type)
	if err != nil {
		return nil, err
	}
	content, _, err := readTarget(p.path, p.path)
	if err != nil {
		return nil, err
	}
	defer clear(content)
	if err := p.holds(content, req.Credential.Value); err != nil {
		return nil, err
	}
	d.log.Debug("credential checked", "job_id", req.JobID, "path", p.path, "key", p.key)
	return &sdk.CheckResult{}, nil
}

// Change sets the key's value to the new credential when the file holds
// the current one. When it does not, the file stays as it was.
func (d *Driver) Change(ctx context.Context, req *sdk.ChangeRequest) (*sdk.ChangeResult, error) {
	p, err := checkRequest(ctx, req.Target, req.Type)
	switch {
	case err != nil:
		return nil, err
	case req.Reconcile != nil:
		return nil, sdk.Errorf(sdk.ReasonUnsupported, "the file driver has no reconcile account")
	case req.New.IsEmpty():
		return nil, sdk.Errorf(sdk.ReasonRejected, "the new value is empty")
	}
	real, err := resolve(p.path)
	if err != nil {
		return nil, err
	}
	defer d.lock(real)()

	if err := d.change(ctx, p, real, req); err != nil {
		return nil, err
	}
	d.log.Info("credential changed", "job_id", req.JobID, "path", p.path, "key", p.key)
	return &sdk.ChangeResult{}, nil
}

// change rewrites the file at real, which p.path resolves to, under the
// file's lock.
func (d *Driver) change(ctx context.Context, p *params, real string, req *sdk.ChangeRequest) error {
	content, info, err := readTarget(real, p.path)
	if err != nil {
		return err
	}
	defer clear(content)
	m, err := p.find(content)
	if err != nil {
		return err
	}
	if !equal(m.value, req.Current) {
		return sdk.Errorf(sdk.ReasonAuthFailed,
			"%s does not hold the current credential under key %q; nothing changed", p.path, p.key)
	}

	out, err := p.edit(content, m, req.New.Reveal())
	if err != nil {
		return err
	}
	defer clear(out)
	if ctx.Err() != nil {
		return sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before writing; nothing changed")
	}
	if err := writeAtomic(real, out, info); err != nil {
		return sdk.Errorf(sdk.ReasonFailed, "writing %s: %v; nothing changed", p.path, err)
	}

	// The file holds the new value from here on: a failure to sync the
	// directory only risks the rename on a crash, and is no failed change.
	if err := syncDir(filepath.Dir(real)); err != nil {
		d.log.Warn("cannot sync the directory after a change", "path", p.path, "error", err)
	}
	return nil
}

// lock locks the file at path against other changes by this driver and
// returns the function that unlocks it.
func (d *Driver) lock(path string) func() {
	v, _ := d.locks.LoadOrStore(path, new(sync.Mutex))
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// checkRequest checks what a check and a change have in common: the
// context, the credential type and the target's parameters.
func checkRequest(ctx context.Context, t sdk.Target, credType string) (*params, error) {
	if ctx.Err() != nil {
		return nil, sdk.Errorf(sdk.ReasonTimeout, "the deadline passed before the driver started")
	}
	if credType != sdk.Password && credType != sdk.PIN {
		return nil, sdk.Errorf(sdk.ReasonUnsupported,
			"the file driver manages passwords and PINs, not %q", credType)
	}
	return parseParams(t.Params)
}

// resolve returns the file path names, symbolic links followed, so that a
// change replaces the file and not the link.
func resolve(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", sdk.Errorf(sdk.ReasonUnreachable, "%s does not exist", path)
	case err != nil:
		return "", sdk.Errorf(sdk.ReasonFailed, "resolving %s: %v", path, err)
	}
	return real, nil
}

// readTarget reads the regular file at path, following symbolic links.
// shown is how errors name it.
func readTarget(path, shown string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, sdk.Errorf(sdk.ReasonUnreachable, "%s does not exist", shown)
	case err != nil:
		return nil, nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", shown, err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", shown, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s is not a regular file", shown)
	}
	content := make([]byte, 0, info.Size()+1)
	for {
		n, err := f.Read(content[len(content):cap(content)])
		content = content[:len(content)+n]
		if err == io.EOF {
			return content, info, nil
		}
		if err != nil {
			clear(content)
			return nil, nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", shown, err)
		}
		if len(content) == cap(content) {
			// The file grew since the stat: move to a bigger buffer and
			// wipe the old one, which holds the credential.
			grown := make([]byte, len(content), 2*cap(content)+4096)
			copy(grown, content)
			clear(content)
			content = grown
		}
	}
}

// equal reports, in constant time for equal lengths, whether b holds s.
func equal(b []byte, s sdk.Secret) bool {
	return subtle.ConstantTimeCompare(b, s.Reveal()) == 1
}
