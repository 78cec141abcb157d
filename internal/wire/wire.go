// Package wire is the protocol between the PassMan server and its agents
// over NATS: the subjects, the job envelope sealed to one agent with HPKE,
// and the events an agent signs with Ed25519 to answer.
//
// A job travels as an Envelope on the agent's job subject. Its payload, the
// only part holding secrets, is sealed to the agent's HPKE public key, with
// the job id, the agent id and the deadline bound in, so that an envelope
// cannot be opened by another agent or replayed with a later deadline. An
// agent answers on its event subject with events signed by its Ed25519 key;
// the server drops any event whose signature does not verify against the
// key it enrolled.
package wire

import (
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version, part of every sealed and signed byte.
const Version = "passman/v1"

// Subjects and streams.
const (
	// JobStream holds jobs until their agent takes them.
	JobStream = "PASSMAN_JOBS"
	// EventStream holds agents' events until the server takes them.
	EventStream = "PASSMAN_EVENTS"
	jobPrefix   = "passman.job."
	eventPrefix = "passman.event."
	beatPrefix  = "passman.heartbeat."
	// JobSubjects and EventSubjects are the streams' subject filters.
	JobSubjects   = jobPrefix + ">"
	EventSubjects = eventPrefix + ">"
	// HeartbeatSubjects matches every agent's heartbeats.
	HeartbeatSubjects = beatPrefix + "*"
)

// JobSubject is where the server publishes the jobs of one agent.
func JobSubject(agentID string) string { return jobPrefix + agentID }

// EventSubject is where an agent publishes its events.
func EventSubject(agentID string) string { return eventPrefix + agentID }

// HeartbeatSubject is where an agent publishes its heartbeats.
func HeartbeatSubject(agentID string) string { return beatPrefix + agentID }

// ConsumerName is the durable JetStream consumer of an agent's jobs.
func ConsumerName(agentID string) string { return "agent-" + agentID }

// InboxPrefix is the only inbox an agent may subscribe to.
func InboxPrefix(agentID string) string { return "_INBOX_" + agentID }

var (
	// ErrBadSignature is returned for an event whose signature does not
	// verify.
	ErrBadSignature = errors.New("event signature does not verify")
	// ErrNotForMe is returned for an envelope addressed to another agent.
	ErrNotForMe = errors.New("envelope is addressed to another agent")
	// ErrSeal is returned when a payload does not open.
	ErrSeal = errors.New("job payload does not open")
)

// The HPKE suite: the hybrid ML-KEM-768 + X25519 KEM, so that a recorded
// job stays sealed against a future quantum computer, HKDF-SHA256 and
// AES-256-GCM.
var (
	kem  = hpke.MLKEM768X25519()
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES256GCM()
)

// Envelope carries one job to one agent.
type Envelope struct {
	JobID    string    `json:"job_id"`
	AgentID  string    `json:"agent_id"`
	Deadline time.Time `json:"deadline"`
	// Sealed is the HPKE encapsulated key followed by the ciphertext of
	// the Payload.
	Sealed []byte `json:"sealed"`
}

// info binds the envelope's header into the seal.
func (e *Envelope) info() []byte {
	return fmt.Appendf(nil, "%s job %s agent %s deadline %s", Version, e.JobID, e.AgentID,
		e.Deadline.UTC().Format(time.RFC3339Nano))
}

// PublicKey is an agent's parsed HPKE public key. Parsing an ML-KEM key
// costs more than using it, so senders keep parsed keys.
type PublicKey struct{ k hpke.PublicKey }

// ParsePublicKey parses an agent's HPKE public key.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	k, err := kem.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("parsing agent key: %w", err)
	}
	return &PublicKey{k}, nil
}

// Seal encrypts p to the agent's HPKE public key into e.Sealed.
func (e *Envelope) Seal(agentKey []byte, p *Payload) error {
	pk, err := ParsePublicKey(agentKey)
	if err != nil {
		return err
	}
	return e.SealTo(pk, p)
}

// SealTo encrypts p to a parsed public key into e.Sealed.
func (e *Envelope) SealTo(pk *PublicKey, p *Payload) error {
	pt, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding payload: %w", err)
	}
	defer clear(pt)
	e.Sealed, err = hpke.Seal(pk.k, kdf, aead, e.info(), pt)
	return err
}

// Open decrypts e's payload with the agent's HPKE private key.
func (e *Envelope) Open(k *Keys) (*Payload, error) {
	if e.AgentID != k.AgentID {
		return nil, ErrNotForMe
	}
	pt, err := hpke.Open(k.hpke, kdf, aead, e.info(), e.Sealed)
	if err != nil {
		return nil, ErrSeal
	}
	defer clear(pt)
	p := new(Payload)
	if err := json.Unmarshal(pt, p); err != nil {
		return nil, fmt.Errorf("decoding payload: %w", err)
	}
	if p.JobID != e.JobID {
		return nil, ErrSeal
	}
	return p, nil
}

// Ops of a payload.
const (
	// OpChange changes a credential, then logs in with the new one.
	OpChange = "change"
	// OpCheck logs in with each candidate in turn.
	OpCheck = "check"
)

// Payload is what an agent needs to run a job. It holds secrets and only
// ever travels sealed.
type Payload struct {
	JobID   string `json:"job_id"`
	Op      string `json:"op"`
	Driver  string `json:"driver"`
	Target  Target `json:"target"`
	Account string `json:"account"`
	Type    string `json:"type"`
	// Current and New are the values of a change.
	Current []byte `json:"current,omitempty"`
	New     []byte `json:"new,omitempty"`
	// Reconcile is the account to change with, when set.
	Reconcile *Login `json:"reconcile,omitempty"`
	// Candidates are the values a check tries, each with its version.
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Wipe overwrites the secrets of p.
func (p *Payload) Wipe() {
	clear(p.Current)
	clear(p.New)
	if p.Reconcile != nil {
		clear(p.Reconcile.Value)
	}
	for _, c := range p.Candidates {
		clear(c.Value)
	}
}

// Target is the part of a target a driver needs.
type Target struct {
	Address string            `json:"address"`
	Params  map[string]string `json:"params,omitempty"`
	HostKey string            `json:"host_key,omitempty"`
}

// Login is an account and one of its credentials.
type Login struct {
	Account string `json:"account"`
	Type    string `json:"type"`
	Value   []byte `json:"value"`
}

// Candidate is one value a check tries.
type Candidate struct {
	Version uint64 `json:"version"`
	Value   []byte `json:"value"`
}

// AgentPermissions returns the NATS subjects an agent may publish to and
// subscribe to: its own consumer's fetch, info and acknowledgements, its
// own event and heartbeat subjects, and its own inbox. Nothing else, so an
// agent can neither read another agent's jobs nor speak for it.
func AgentPermissions(agentID string) (publish, subscribe []string) {
	c := ConsumerName(agentID)
	publish = []string{
		"$JS.API.CONSUMER.MSG.NEXT." + JobStream + "." + c,
		"$JS.API.CONSUMER.INFO." + JobStream + "." + c,
		"$JS.ACK." + JobStream + "." + c + ".>",
		EventSubject(agentID),
		HeartbeatSubject(agentID),
	}
	subscribe = []string{InboxPrefix(agentID) + ".>"}
	return publish, subscribe
}
