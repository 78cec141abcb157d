package plugins

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ChecksumFile is the name of the file, in a directory of plugins, that
// lists their SHA-256 sums in the format of sha256sum.
const ChecksumFile = "SHA256SUMS"

// ExecutablePrefix starts the file name of every driver plugin: the
// plugin of driver "x" is passman-driver-x.
const ExecutablePrefix = "passman-driver-"

// ReadChecksums returns a Spec for each driver plugin that dir's
// SHA256SUMS lists, in its order. Lines of other files are skipped; a line
// that is not "<hex>  <file>" (or "<hex> *<file>") is an error.
func ReadChecksums(dir string) ([]Spec, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	f, err := os.Open(filepath.Join(abs, ChecksumFile))
	if err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	defer func() { _ = f.Close() }()

	var specs []Spec
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, file, err := parseChecksumLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", ChecksumFile, n, err)
		}
		name, ok := driverName(file)
		if !ok {
			continue
		}
		specs = append(specs, Spec{Name: name, Path: filepath.Join(abs, file), SHA256: sum})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	return specs, nil
}

// parseChecksumLine splits a line of sha256sum's output.
func parseChecksumLine(line string) (sum, file string, err error) {
	sum, file, ok := strings.Cut(line, " ")
	if !ok || len(sum) != 2*sha256.Size {
		return "", "", fmt.Errorf("want a 64-digit SHA-256, two spaces and a file name")
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", "", fmt.Errorf("the SHA-256 is not hexadecimal")
	}
	file = strings.TrimPrefix(strings.TrimPrefix(file, " "), "*")
	if file == "" || strings.ContainsAny(file, `/\`) {
		return "", "", fmt.Errorf("file name %q is not a file in the directory", file)
	}
	return strings.ToLower(sum), file, nil
}

// driverName returns the driver a plugin's file name is for, or false
// when it is no plugin's name.
func driverName(file string) (string, bool) {
	name, ok := strings.CutPrefix(strings.TrimSuffix(file, ".exe"), ExecutablePrefix)
	return name, ok && name != ""
}

// WriteChecksums writes dir's SHA256SUMS for every driver plugin in dir,
// sorted by file name, replacing any earlier one.
func WriteChecksums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing plugins: %w", err)
	}
	var buf bytes.Buffer
	for _, e := range entries {
		if _, ok := driverName(e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		sum, err := fileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "%s  %s\n", sum, e.Name())
	}
	return writeFile(filepath.Join(dir, ChecksumFile), buf.Bytes())
}

// fileSHA256 returns the SHA-256 of the file at path in hexadecimal.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing plugin: %w", err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeFile writes data to path through a temporary file and a rename, so
// that a reader never sees half of it.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing checksums: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.Write(data)
	err = firstErr(err, tmp.Chmod(0o644), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing checksums: %w", err)
	}
	return nil
}

// firstErr returns the first error of errs that is not nil.
func firstErr(errs ...error) error {
	i := slices.IndexFunc(errs, func(e error) bool { return e != nil })
	if i < 0 {
		return nil
	}
	return errs[i]
}
