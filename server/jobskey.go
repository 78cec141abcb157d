package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/server/pki"
)

// jobsKeyFile holds the server's jobs key, the Ed25519 key it signs the
// sealers of the jobs it sends agents with: an agent runs only jobs its
// server sealed. Agents learn its public half when they enroll.
const jobsKeyFile = "jobs.key"

// initJobsKey makes the jobs key of a new data directory.
func initJobsKey(dir string) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return fmt.Errorf("making the jobs key: %w", err)
	}
	defer clear(seed)
	text := base64.StdEncoding.EncodeToString(seed) + "\n"
	return pki.WriteFileAtomic(filepath.Join(dir, jobsKeyFile), []byte(text), 0o600)
}

// loadJobsKey reads the jobs key of dir. A data directory made before
// jobs were signed gets one now: its agents must enroll again to learn it.
func loadJobsKey(dir string, log hclog.Logger) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, jobsKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.Warn("no jobs key: making one; agents enrolled before must enroll again",
			"file", path)
		if err := initJobsKey(dir); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the jobs key: %w", err)
	}
	defer clear(b)
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("reading the jobs key: %s does not hold a base64 Ed25519 seed",
			path)
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}
