package agent

import (
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/pki"
)

// Files in an agent's data directory.
const (
	enrollmentFile = "agent.json"
	keysFile       = "keys.json"
	caFile         = "ca.pem"
	journalFile    = "journal"
	lockFile       = "lock"
)

// Modes of the files and directory the agent writes.
const (
	dirMode    = 0o700
	publicMode = 0o644
	keysMode   = 0o600
)

// Enrollment is what an agent learned when it enrolled, kept in agent.json
// in its data directory. It holds nothing secret.
type Enrollment struct {
	// AgentID is the id the server gave the agent.
	AgentID string `json:"agent_id"`
	// Name is how the agent is shown.
	Name string `json:"name"`
	// Zone is the network segment whose targets the agent reaches.
	Zone string `json:"zone"`
	// Server is the URL of the server the agent enrolled with.
	Server string `json:"server"`
	// NATS are the URLs the agent connects to.
	NATS []string `json:"nats"`
	// CACert is the file of the CA that signs the NATS server's
	// certificate, relative to the data directory unless absolute. Empty
	// means the system's roots.
	CACert string `json:"ca_cert,omitempty"`
	// Enrolled is when the agent enrolled.
	Enrolled time.Time `json:"enrolled"`
	// JobsKey is the Ed25519 public key the server signs the jobs it
	// sends with. The agent runs no job without it.
	JobsKey []byte `json:"jobs_key,omitempty"`
}

// secretKeys is keys.json: the agent's private keys.
type secretKeys struct {
	// Wire holds the HPKE and signing keys, as wire.Keys encodes them.
	Wire json.RawMessage `json:"wire"`
	// NATSSeed is the seed of the agent's NATS user nkey.
	NATSSeed string `json:"nats_seed"`
}

// identity is everything Run needs to act as the enrolled agent.
type identity struct {
	info    Enrollment
	keys    *wire.Keys
	nkey    nkeys.KeyPair
	nkeyPub string
	tls     *tls.Config
}

// ReadEnrollment returns the enrollment kept in dataDir, or
// ErrNotEnrolled when there is none.
func ReadEnrollment(dataDir string) (*Enrollment, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, enrollmentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("reading enrollment: %w", err)
	}
	e := new(Enrollment)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", enrollmentFile, err)
	}
	if err := checkAgentID(e.AgentID); err != nil {
		return nil, fmt.Errorf("reading %s: %w", enrollmentFile, err)
	}
	if len(e.NATS) == 0 {
		return nil, fmt.Errorf("reading %s: no NATS URL", enrollmentFile)
	}
	return e, nil
}

// enrolled reports whether dataDir holds an enrollment or its keys.
func enrolled(dataDir string) (bool, error) {
	for _, name := range []string{enrollmentFile, keysFile} {
		_, err := os.Stat(filepath.Join(dataDir, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("looking for an enrollment: %w", err)
		}
	}
	return false, nil
}

// loadIdentity reads the enrollment, the keys and the CA of dataDir.
func loadIdentity(dataDir string) (*identity, error) {
	info, err := ReadEnrollment(dataDir)
	if err != nil {
		return nil, err
	}
	if len(info.JobsKey) != ed25519.PublicKeySize {
		return nil, ErrNoJobsKey
	}
	id := &identity{info: *info}
	if err := id.loadKeys(dataDir); err != nil {
		return nil, err
	}
	if id.keys.AgentID != info.AgentID {
		id.wipe()
		return nil, fmt.Errorf("reading %s: the keys belong to agent %q, not %q",
			keysFile, id.keys.AgentID, info.AgentID)
	}
	if id.tls, err = natsTLS(dataDir, info.CACert); err != nil {
		id.wipe()
		return nil, err
	}
	return id, nil
}

// loadKeys reads keys.json into id.
func (id *identity) loadKeys(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, keysFile))
	if err != nil {
		return fmt.Errorf("reading agent keys: %w", err)
	}
	defer clear(b)
	var sk secretKeys
	if err := json.Unmarshal(b, &sk); err != nil {
		return fmt.Errorf("decoding %s: %w", keysFile, err)
	}
	defer clear(sk.Wire)
	if id.keys, err = wire.ParseKeys(sk.Wire); err != nil {
		return err
	}
	if id.nkey, err = nkeys.FromSeed([]byte(sk.NATSSeed)); err != nil {
		return fmt.Errorf("parsing NATS seed: %w", err)
	}
	id.nkeyPub, err = id.nkey.PublicKey()
	return err
}

// natsTLS returns the TLS configuration that trusts the CA in file, or
// the system's roots when file is empty.
func natsTLS(dataDir, file string) (*tls.Config, error) {
	if file == "" {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dataDir, file)
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading NATS CA certificate: %w", err)
	}
	return pki.ClientTLSConfig(pem)
}

// wipe forgets the NATS key. The wire keys have no wipe of their own.
func (id *identity) wipe() {
	if id.nkey != nil {
		id.nkey.Wipe()
	}
}

// writeIdentity writes the keys, the CA and then the enrollment into
// dataDir, each file atomically. The enrollment goes last: a data
// directory with an agent.json is complete.
func writeIdentity(dataDir string, e *Enrollment, keys *wire.Keys, seed, caPEM []byte) error {
	wk, err := keys.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding agent keys: %w", err)
	}
	defer clear(wk)
	kb, err := json.Marshal(secretKeys{Wire: wk, NATSSeed: string(seed)})
	if err != nil {
		return fmt.Errorf("encoding agent keys: %w", err)
	}
	defer clear(kb)
	if err := pki.WriteFileAtomic(filepath.Join(dataDir, keysFile), kb, keysMode); err != nil {
		return fmt.Errorf("writing %s: %w", keysFile, err)
	}
	if len(caPEM) > 0 {
		err := pki.WriteFileAtomic(filepath.Join(dataDir, caFile), caPEM, publicMode)
		if err != nil {
			return fmt.Errorf("writing %s: %w", caFile, err)
		}
		e.CACert = caFile
	}
	eb, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding enrollment: %w", err)
	}
	err = pki.WriteFileAtomic(filepath.Join(dataDir, enrollmentFile), append(eb, '\n'), publicMode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", enrollmentFile, err)
	}
	return nil
}

// checkAgentID refuses an agent id that cannot be one token of a NATS
// subject: the id goes into every subject the agent uses.
func checkAgentID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("agent id %q must be 1 to 64 characters", id)
	}
	for _, r := range id {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (r < '0' || r > '9') && r != '-' && r != '_' {
			return fmt.Errorf("agent id %q may hold only letters, digits, - and _", id)
		}
	}
	return nil
}

// journalPath is where the journal of job ids lives.
func journalPath(dataDir string) string { return filepath.Join(dataDir, journalFile) }
