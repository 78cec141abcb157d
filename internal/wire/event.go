package wire

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"
)

// Kinds of event.
const (
	// EventAccepted says the agent starts a job. It is sent, and stored by
	// JetStream, before the agent touches the target.
	EventAccepted = "accepted"
	// EventResult says how a job ended.
	EventResult = "result"
	// EventRefused says the agent will not run a job: its deadline passed,
	// it ran it already, or it does not open.
	EventRefused = "refused"
)

// Event is what an agent says about a job, signed.
type Event struct {
	Kind    string    `json:"kind"`
	JobID   string    `json:"job_id"`
	AgentID string    `json:"agent_id"`
	Time    time.Time `json:"time"`
	// OK, Reason and Message are the outcome of a result.
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Checks are the outcomes of a check job, one per candidate.
	Checks []CheckOutcome `json:"checks,omitempty"`
	// HostKey is the target's host key, as the driver saw it.
	HostKey string `json:"host_key,omitempty"`
	Sig     []byte `json:"sig,omitempty"`
}

// CheckOutcome is the result of logging in with one candidate.
type CheckOutcome struct {
	Version uint64 `json:"version"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// signed returns the bytes the signature covers.
func (e Event) signed() []byte {
	e.Sig = nil
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("wire: encoding event: %v", err))
	}
	return append([]byte(Version+" event "), b...)
}

// Sign signs e with the agent's key.
func (e *Event) Sign(k *Keys) {
	e.AgentID = k.AgentID
	e.Sig = ed25519.Sign(k.sign, e.signed())
}

// Verify checks e's signature against an agent's public signing key.
func (e *Event) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, e.signed(), e.Sig) {
		return ErrBadSignature
	}
	return nil
}

// Heartbeat is what an agent publishes every few seconds.
type Heartbeat struct {
	AgentID  string    `json:"agent_id"`
	Time     time.Time `json:"time"`
	Version  string    `json:"version"`
	Drivers  []string  `json:"drivers"`
	InFlight int       `json:"in_flight"`
	// Describe is what each loaded driver says of itself.
	Describe []DriverInfo `json:"describe,omitempty"`
	Sig      []byte       `json:"sig,omitempty"`
}

// DriverInfo is a driver's description as an agent reports it, so that the
// server can check targets' parameters against it.
type DriverInfo struct {
	Name            string      `json:"name"`
	CredentialTypes []string    `json:"credential_types"`
	Params          []ParamInfo `json:"params"`
	Reconcile       bool        `json:"reconcile"`
}

// ParamInfo describes one target parameter of a driver.
type ParamInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

func (h Heartbeat) signed() []byte {
	h.Sig = nil
	b, _ := json.Marshal(h)
	return append([]byte(Version+" heartbeat "), b...)
}

// Sign signs h with the agent's key.
func (h *Heartbeat) Sign(k *Keys) {
	h.AgentID = k.AgentID
	h.Sig = ed25519.Sign(k.sign, h.signed())
}

// Verify checks h's signature.
func (h *Heartbeat) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, h.signed(), h.Sig) {
		return ErrBadSignature
	}
	return nil
}
