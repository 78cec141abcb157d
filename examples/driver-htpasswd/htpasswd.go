package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/passman-dev/passman/plugins/sdk"
)

// htpasswdFile is an htpasswd file as read: one "user:hash" entry a line.
type htpasswdFile struct {
	path    string
	mode    fs.FileMode
	content []byte
}

// entry is where one user's hash is in the file.
type entry struct {
	// start and end are the offsets of the hash in the content.
	start, end int
	hash       []byte
}

// readFile reads the htpasswd file at path.
func readFile(path string) (*htpasswdFile, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, sdk.Errorf(sdk.ReasonUnreachable, "%s does not exist", path)
	case err != nil:
		return nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", path, err)
	case !info.Mode().IsRegular():
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s is not a regular file", path)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", path, err)
	}
	return &htpasswdFile{path: path, mode: info.Mode().Perm(), content: content}, nil
}

// entry finds the user's entry. A user without one cannot log in, so its
// absence is auth_failed; two entries for one user are a broken file.
func (f *htpasswdFile) entry(user string) (*entry, error) {
	var found *entry
	for pos := 0; pos < len(f.content); {
		end := bytes.IndexByte(f.content[pos:], '\n')
		if end < 0 {
			end = len(f.content)
		} else {
			end += pos
		}
		line := bytes.TrimSuffix(f.content[pos:end], []byte("\r"))
		name, hash, ok := bytes.Cut(line, []byte(":"))
		if ok && string(name) == user {
			if found != nil {
				return nil, sdk.Errorf(sdk.ReasonInvalidParams,
					"%s has more than one entry for %q", f.path, user)
			}
			start := pos + len(name) + 1
			found = &entry{start: start, end: start + len(hash), hash: hash}
		}
		pos = end + 1
	}
	if found == nil {
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "%s has no entry for %q", f.path, user)
	}
	return found, nil
}

// replace writes the file anew with e's hash replaced by hash and every
// other byte as it was.
func (f *htpasswdFile) replace(e *entry, hash []byte) error {
	out := make([]byte, 0, len(f.content)+len(hash))
	out = append(out, f.content[:e.start]...)
	out = append(out, hash...)
	out = append(out, f.content[e.end:]...)
	if err := writeAtomic(f.path, out, f.mode); err != nil {
		return err
	}
	// The file holds the new hash from here on: a directory that cannot
	// be synced only puts the rename at risk in a crash, and is no failed
	// change.
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		logger.Warn("cannot sync the directory after a change", "path", f.path, "error", err)
	}
	return nil
}

// writeAtomic replaces the file at path with content: a temporary file in
// the same directory is written, synced, given the mode and renamed over
// the old file. On an error the old file is as it was.
// The new file belongs to the user the agent runs as; the file driver in
// PassMan's plugins/file shows how to keep the old owner.
func writeAtomic(path string, content []byte, mode fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("creating a temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(content); err != nil {
		return fmt.Errorf("writing the temporary file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing the temporary file: %w", err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting the mode: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing the temporary file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming the temporary file: %w", err)
	}
	return nil
}

// syncDir syncs a directory, so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
