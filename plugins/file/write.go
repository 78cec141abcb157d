package file

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// modeBits are the mode bits a new file takes over from the old one.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// writeAtomic replaces the file at path with content: it writes a
// temporary file in the same directory, syncs it, gives it the mode and
// owner of the old file, which info describes, and renames it over the old
// one. On an error the old file is as it was and the temporary file gone.
func writeAtomic(path string, content []byte, info fs.FileInfo) (err error) {
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".passman-*")
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
	// The owner first: a change of owner may clear the setuid and setgid
	// bits that the mode then sets.
	if err = keepOwner(tmp, info); err != nil {
		return fmt.Errorf("giving the new file the old one's owner: %w", err)
	}
	if err = tmp.Chmod(info.Mode() & modeBits); err != nil {
		return fmt.Errorf("giving the new file the old one's mode: %w", err)
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
