// Package wire is the protocol between the PassMan server and its agents
// over NATS: the subjects, the job envelope sealed to one agent with HPKE,
// and the events an agent signs with Ed25519 to answer.
//
// Jobs travel in batches, one Envelope per message, offered to the agent
// directly or, when it does not take them at once, queued on its job
// subject. Their payloads, the only part holding secrets, are sealed
// together to the agent's HPKE public key, with the agent id and every
// job's id and deadline bound in, so that an envelope cannot be opened by
// another agent or replayed with a later deadline; the server signs the
// key they are sealed under with its jobs key, so that the agent runs only
// what its server sealed. Before it starts jobs,
// an agent asks the server, in a signed Report on its accept subject, to
// record them as started; it starts those the server answers it recorded.
// It answers with Reports, each a batch of events signed once by its
// Ed25519 key: in a request on its report subject, which the server
// answers once it has applied the report, or, when the server does not
// answer, on its event subject, whose stream keeps the report until the
// server takes it. The server drops any report whose signature does not
// verify against the key it enrolled.
package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	json "github.com/go-json-experiment/json/v1"
)

// Version is the protocol version, part of every sealed and signed byte.
const Version = "passman/v3"

// Subjects and streams.
const (
	// JobStream holds jobs until their agent takes them.
	JobStream = "PASSMAN_JOBS"
	// EventStream holds agents' events until the server takes them.
	EventStream  = "PASSMAN_EVENTS"
	jobPrefix    = "passman.job."
	eventPrefix  = "passman.event."
	acceptPrefix = "passman.accept."
	reportPrefix = "passman.report."
	offerPrefix  = "passman.offer."
	beatPrefix   = "passman.heartbeat."
	// JobSubjects and EventSubjects are the streams' subject filters.
	JobSubjects   = jobPrefix + ">"
	EventSubjects = eventPrefix + ">"
	// HeartbeatSubjects matches every agent's heartbeats.
	HeartbeatSubjects = beatPrefix + "*"
	// AcceptSubjects matches every agent's accept requests.
	AcceptSubjects = acceptPrefix + "*"
	// ReportSubjects matches every agent's report requests.
	ReportSubjects = reportPrefix + "*"
)

// JobSubject is where the server publishes the jobs of one agent.
func JobSubject(agentID string) string { return jobPrefix + agentID }

// OfferSubject is where the server offers an agent a message of jobs
// directly, in a request the agent answers at once with an OfferReply.
// A message the agent does not take goes to its job subject.
func OfferSubject(agentID string) string { return offerPrefix + agentID }

// EventSubject is where an agent publishes its events.
func EventSubject(agentID string) string { return eventPrefix + agentID }

// AcceptSubject is where an agent asks the server to record that it
// starts jobs.
func AcceptSubject(agentID string) string { return acceptPrefix + agentID }

// ReportSubject is where an agent hands a report to the server directly,
// in a request answered once the server has applied it.
func ReportSubject(agentID string) string { return reportPrefix + agentID }

// AgentOf returns the agent id that ends subject, one of an agent's own.
func AgentOf(subject string) string { return subject[strings.LastIndexByte(subject, '.')+1:] }

// HeartbeatSubject is where an agent publishes its heartbeats.
func HeartbeatSubject(agentID string) string { return beatPrefix + agentID }

// ConsumerName is the durable JetStream consumer of an agent's jobs.
func ConsumerName(agentID string) string { return "agent-" + agentID }

// InboxPrefix is the only inbox an agent may subscribe to.
func InboxPrefix(agentID string) string { return "_INBOX_" + agentID }

var (
	// ErrBadSignature is returned for a report or heartbeat whose
	// signature does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrNotForMe is returned for an envelope addressed to another agent.
	ErrNotForMe = errors.New("envelope is addressed to another agent")
	// ErrSeal is returned when a payload does not open.
	ErrSeal = errors.New("job payload does not open")
	// ErrUnsigned is returned for an envelope sealed under a key the
	// server did not sign: someone else sealed it.
	ErrUnsigned = errors.New("job envelope is not sealed by the server")
	// ErrBadBatch is returned when payloads do not match an envelope's
	// jobs.
	ErrBadBatch = errors.New("payloads do not match the envelope's jobs")
)

// The HPKE suite: the hybrid ML-KEM-768 + X25519 KEM, so that a recorded
// job stays sealed against a future quantum computer, HKDF-SHA256 and
// AES-256-GCM.
var (
	kem  = hpke.MLKEM768X25519()
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES256GCM()
)

// encSize is the length of the suite's encapsulated key: an ML-KEM-768
// ciphertext and an X25519 public key.
const encSize = 1088 + 32

// MaxBatch is the most jobs one envelope carries.
const MaxBatch = 64

// Envelope carries a batch of jobs to one agent: one seal and one
// message for all of them.
type Envelope struct {
	AgentID string `json:"agent_id"`
	// Jobs are the jobs of the batch, in the order of the sealed payloads.
	Jobs []JobHeader `json:"jobs"`
	// Seq numbers the envelope among those sealed under its encapsulated
	// key.
	Seq uint64 `json:"seq"`
	// SealerSig is the server's signature of the sealer: of the agent id
	// and the encapsulated key, with its jobs key.
	SealerSig []byte `json:"sealer_sig"`
	// Sealed is the HPKE encapsulated key followed by the ciphertext of
	// the payloads.
	Sealed []byte `json:"sealed"`
}

// JobHeader is what anyone on the wire may see of a job: its id and its
// deadline, both bound into the seal.
type JobHeader struct {
	JobID    string    `json:"job_id"`
	Deadline time.Time `json:"deadline"`
}

// sealInfo is the HPKE info of every envelope to an agent. It names only
// the agent, so that a Sealer can be made before its jobs are known.
func sealInfo(agentID string) []byte {
	return fmt.Appendf(nil, "%s jobs for agent %s", Version, agentID)
}

// header binds the envelope's header into the seal as associated data:
// the agent, its number and every job's id and deadline, in order.
func (e *Envelope) header() []byte {
	b := fmt.Appendf(sealInfo(e.AgentID), "; seq %d", e.Seq)
	for _, j := range e.Jobs {
		b = fmt.Appendf(b, "; job %s deadline %s", j.JobID, j.Deadline.UTC().Format(time.RFC3339Nano))
	}
	return b
}

// MsgID is the envelope's JetStream message id: the same batch published
// twice is stored once, and two different batches never share an id.
func (e *Envelope) MsgID() string {
	ids := make([]string, len(e.Jobs))
	for i, j := range e.Jobs {
		ids[i] = j.JobID
	}
	return "jobs-" + digest(ids)
}

// digest returns a short hex digest of a list of strings.
func digest(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
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

// A Sealer seals envelopes to one agent under one HPKE encapsulation. The
// encapsulation is most of the price of a seal, for the sender and for the
// agent that decapsulates, so both pay it once for many envelopes: each
// envelope is encrypted with AES-256-GCM under a key of its own, exported
// from the HPKE context for the envelope's number, used once. A sender
// keeps a Sealer while it is Fresh and then makes a new one.
//
// The server signs each Sealer's encapsulated key with its jobs key, and
// the agent opens envelopes only under keys so signed: only the server,
// which alone holds the HPKE context of such a key, can seal jobs the
// agent runs, whoever else can publish on the agent's subjects.
type Sealer struct {
	agentID string
	pk      *PublicKey
	enc     []byte
	sig     []byte
	made    time.Time

	mu   sync.Mutex
	s    *hpke.Sender
	next uint64
}

// Bounds of a Sealer's use.
const (
	// SealerUses is how many envelopes one Sealer seals.
	SealerUses = 1 << 16
	// SealerLife is how long a Sender keeps a Sealer.
	SealerLife = 10 * time.Minute
)

// NewSealer makes a sealer for envelopes to the agent with id agentID and
// public key pk, signed with the server's jobs key.
func NewSealer(agentID string, pk *PublicKey, jobsKey ed25519.PrivateKey) (*Sealer, error) {
	if len(jobsKey) != ed25519.PrivateKeySize {
		return nil, errors.New("making a sealer: no jobs key to sign it with")
	}
	enc, s, err := hpke.NewSender(pk.k, kdf, aead, sealInfo(agentID))
	if err != nil {
		return nil, fmt.Errorf("encapsulating to agent %s: %w", agentID, err)
	}
	sig := ed25519.Sign(jobsKey, sealerMessage(agentID, enc))
	return &Sealer{agentID: agentID, pk: pk, enc: enc, sig: sig, made: time.Now(), s: s}, nil
}

// sealerMessage is what the server signs of a sealer: the agent it seals
// to and its encapsulated key.
func sealerMessage(agentID string, enc []byte) []byte {
	return append(fmt.Appendf(nil, "%s sealer for agent %s: ", Version, agentID), enc...)
}

// Fresh reports whether sl may seal another envelope to the agent with
// key pk: it was made for that key, it has uses left and it is younger
// than SealerLife.
func (sl *Sealer) Fresh(pk *PublicKey, now time.Time) bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.pk == pk && sl.next < SealerUses && now.Sub(sl.made) < SealerLife
}

// take numbers the next envelope and returns its key.
func (sl *Sealer) take() (seq uint64, key []byte, err error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.next >= SealerUses {
		return 0, nil, fmt.Errorf("%w: the sealer is used up", ErrBadBatch)
	}
	seq = sl.next
	sl.next++
	key, err = sl.s.Export(envelopeKeyContext(seq), envelopeKeySize)
	return seq, key, err
}

// envelopeKeySize is the size of an envelope's AES-256 key.
const envelopeKeySize = 32

// envelopeKeyContext is the HPKE exporter context of envelope seq's key.
func envelopeKeyContext(seq uint64) string {
	return fmt.Sprintf("%s envelope key %d", Version, seq)
}

// Seal encrypts ps, one payload per job of e in the same order, to the
// agent's HPKE public key into e.Sealed, under a new sealer signed with
// jobsKey.
func (e *Envelope) Seal(agentKey []byte, jobsKey ed25519.PrivateKey, ps ...*Payload) error {
	pk, err := ParsePublicKey(agentKey)
	if err != nil {
		return err
	}
	sl, err := NewSealer(e.AgentID, pk, jobsKey)
	if err != nil {
		return err
	}
	return e.SealWith(sl, ps...)
}

// SealWith is Seal with a sealer made for e's agent, as its next
// envelope.
func (e *Envelope) SealWith(sl *Sealer, ps ...*Payload) error {
	if len(ps) != len(e.Jobs) || len(ps) == 0 || len(ps) > MaxBatch {
		return fmt.Errorf("%w: %d payloads for %d jobs", ErrBadBatch, len(ps), len(e.Jobs))
	}
	for i, p := range ps {
		if p.JobID != e.Jobs[i].JobID {
			return fmt.Errorf("%w: payload %d is of job %s, not %s", ErrBadBatch, i, p.JobID,
				e.Jobs[i].JobID)
		}
	}
	if sl == nil || sl.agentID != e.AgentID {
		return fmt.Errorf("%w: the sealer is made for another agent", ErrBadBatch)
	}
	pt, err := json.Marshal(ps)
	if err != nil {
		return fmt.Errorf("encoding payloads: %w", err)
	}
	defer clear(pt)
	seq, key, err := sl.take()
	if err != nil {
		return err
	}
	defer clear(key)
	e.Seq, e.SealerSig = seq, sl.sig
	g, err := envelopeAEAD(key)
	if err != nil {
		return err
	}
	out := make([]byte, len(sl.enc), len(sl.enc)+len(pt)+g.Overhead())
	copy(out, sl.enc)
	e.Sealed = g.Seal(out, envelopeNonce[:], pt, e.header())
	return nil
}

// envelopeNonce is the nonce of every envelope: each key seals once.
var envelopeNonce [12]byte

// envelopeAEAD returns AES-256-GCM under an envelope's key.
func envelopeAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// openerKeeps is how many HPKE contexts an Opener keeps.
const openerKeeps = 8

// Opener opens the envelopes sealed to one agent by its server. It keeps
// the HPKE contexts of the last encapsulated keys it opened an envelope
// under, so that the other envelopes of a Sealer need no decapsulation
// and no check of the server's signature. It is safe for concurrent use.
type Opener struct {
	k      *Keys
	server ed25519.PublicKey

	mu    sync.Mutex
	ctxs  map[string]*hpke.Recipient
	order []string
}

// NewOpener returns an Opener of the envelopes sealed to k's agent by the
// server whose jobs key is server.
func NewOpener(k *Keys, server ed25519.PublicKey) *Opener {
	return &Opener{k: k, server: server, ctxs: map[string]*hpke.Recipient{}}
}

// Open decrypts e's payloads. They come in the order of e.Jobs, each
// checked to be of its job. An envelope under a key the server did not
// sign returns ErrUnsigned.
func (o *Opener) Open(e *Envelope) ([]*Payload, error) {
	if e.AgentID != o.k.AgentID {
		return nil, ErrNotForMe
	}
	if len(e.Sealed) < encSize {
		return nil, ErrSeal
	}
	enc, ct := e.Sealed[:encSize], e.Sealed[encSize:]
	r, known, err := o.context(e, enc)
	if err != nil {
		return nil, err
	}
	key, err := r.Export(envelopeKeyContext(e.Seq), envelopeKeySize)
	if err != nil {
		return nil, ErrSeal
	}
	defer clear(key)
	g, err := envelopeAEAD(key)
	if err != nil {
		return nil, ErrSeal
	}
	pt, err := g.Open(nil, envelopeNonce[:], ct, e.header())
	if err != nil {
		return nil, ErrSeal
	}
	defer clear(pt)
	if !known {
		o.keep(enc, r)
	}
	return e.payloads(pt)
}

// Check reports whether e is sealed under a key the server signed, without
// opening it: ErrUnsigned when not, ErrSeal when e is too short to tell.
func (o *Opener) Check(e *Envelope) error {
	if len(e.Sealed) < encSize {
		return ErrSeal
	}
	enc := e.Sealed[:encSize]
	o.mu.Lock()
	_, ok := o.ctxs[string(enc)]
	o.mu.Unlock()
	if ok || o.signed(e, enc) {
		return nil
	}
	return ErrUnsigned
}

// signed reports whether the server signed enc, the encapsulated key of e.
func (o *Opener) signed(e *Envelope, enc []byte) bool {
	return len(o.server) == ed25519.PublicKeySize &&
		ed25519.Verify(o.server, sealerMessage(e.AgentID, enc), e.SealerSig)
}

// context returns the HPKE context of enc, the encapsulated key of e:
// kept, or decapsulated now once the server's signature of it checks out.
// It reports whether the context was kept.
func (o *Opener) context(e *Envelope, enc []byte) (*hpke.Recipient, bool, error) {
	o.mu.Lock()
	r, ok := o.ctxs[string(enc)]
	o.mu.Unlock()
	if ok {
		return r, true, nil
	}
	if !o.signed(e, enc) {
		return nil, false, ErrUnsigned
	}
	r, err := hpke.NewRecipient(enc, o.k.hpke, kdf, aead, sealInfo(o.k.AgentID))
	if err != nil {
		return nil, false, ErrSeal
	}
	return r, false, nil
}

// keep keeps the context of enc, under which an envelope opened, in place
// of the oldest one kept. Only such contexts are kept, so that envelopes
// that do not open cannot push out those of real ones.
func (o *Opener) keep(enc []byte, r *hpke.Recipient) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := string(enc)
	if _, ok := o.ctxs[id]; ok {
		return
	}
	if len(o.order) >= openerKeeps {
		delete(o.ctxs, o.order[0])
		o.order = o.order[1:]
	}
	o.ctxs[id] = r
	o.order = append(o.order, id)
}

// payloads decodes the plaintext of e and checks each payload against its
// job.
func (e *Envelope) payloads(pt []byte) ([]*Payload, error) {
	var ps []*Payload
	if err := json.Unmarshal(pt, &ps); err != nil {
		return nil, fmt.Errorf("decoding payloads: %w", err)
	}
	if len(ps) != len(e.Jobs) {
		return nil, ErrSeal
	}
	for i, p := range ps {
		if p == nil || p.JobID != e.Jobs[i].JobID {
			return nil, ErrSeal
		}
	}
	return ps, nil
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

// AnswerWindow is how long an agent may answer a request it received,
// an offer of jobs: NATS lets an agent publish one message to the reply
// subject of each message it receives, within this time, and nothing
// else beyond AgentPermissions.
const AnswerWindow = 5 * time.Second

// AgentPermissions returns the NATS subjects an agent may publish to and
// subscribe to: its own consumer's fetch, info and acknowledgements, its
// own accept, report, event and heartbeat subjects, its own offers and
// its own inbox. Nothing else, so an agent can neither read another
// agent's jobs nor speak for it.
func AgentPermissions(agentID string) (publish, subscribe []string) {
	c := ConsumerName(agentID)
	publish = []string{
		"$JS.API.CONSUMER.MSG.NEXT." + JobStream + "." + c,
		"$JS.API.CONSUMER.INFO." + JobStream + "." + c,
		"$JS.ACK." + JobStream + "." + c + ".>",
		EventSubject(agentID),
		AcceptSubject(agentID),
		ReportSubject(agentID),
		HeartbeatSubject(agentID),
	}
	subscribe = []string{InboxPrefix(agentID) + ".>", OfferSubject(agentID)}
	return publish, subscribe
}
