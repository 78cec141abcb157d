package wire

import (
	"crypto/ed25519"
	"fmt"
	"time"

	json "github.com/go-json-experiment/json/v1"
)

// Kinds of event.
const (
	// EventAccepted says the agent starts a job. It travels in a request
	// on the agent's accept subject, not on its event subject, and the
	// agent touches the target only once the server has answered that it
	// recorded the job as started.
	EventAccepted = "accepted"
	// EventResult says how a job ended.
	EventResult = "result"
	// EventRefused says the agent will not run a job: its deadline passed,
	// it ran it already, or it does not open.
	EventRefused = "refused"
)

// MaxReport is the most events one report carries.
const MaxReport = 256

// Event is what an agent says about one job. Events travel in a signed
// Report.
type Event struct {
	Kind  string `json:"kind"`
	JobID string `json:"job_id"`
	// OK, Reason and Message are the outcome of a result.
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Checks are the outcomes of a check job, one per candidate.
	Checks []CheckOutcome `json:"checks,omitempty"`
	// HostKey is the target's host key, as the driver saw it.
	HostKey string `json:"host_key,omitempty"`
}

// CheckOutcome is the result of logging in with one candidate.
type CheckOutcome struct {
	Version uint64 `json:"version"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Report is a batch of an agent's events, signed once: a busy agent
// answers for many jobs with one signature and one message.
type Report struct {
	AgentID string    `json:"agent_id"`
	Time    time.Time `json:"time"`
	Events  []Event   `json:"events"`
	Sig     []byte    `json:"sig,omitempty"`
}

// signed returns the bytes the signature covers.
func (r Report) signed() []byte {
	r.Sig = nil
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("wire: encoding report: %v", err))
	}
	return append([]byte(Version+" report "), b...)
}

// Sign signs r with the agent's key.
func (r *Report) Sign(k *Keys) {
	r.AgentID = k.AgentID
	r.Sig = ed25519.Sign(k.sign, r.signed())
}

// Verify checks r's signature against an agent's public signing key.
func (r *Report) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.signed(), r.Sig) {
		return ErrBadSignature
	}
	return nil
}

// MsgID is the report's JetStream message id, from the kind and job of
// each of its events: a retry of a stored report is not stored twice.
func (r *Report) MsgID() string {
	parts := make([]string, 0, 2*len(r.Events))
	for _, e := range r.Events {
		parts = append(parts, e.Kind, e.JobID)
	}
	return "report-" + digest(parts)
}

// AcceptReply is the server's answer to an accept request: the jobs it
// recorded as started by the agent that asked, once the jobs' own records
// are durable. The agent starts those and no others.
type AcceptReply struct {
	Started []string `json:"started,omitempty"`
	// Error says why the server recorded nothing.
	Error string `json:"error,omitempty"`
}

// OfferReply is an agent's answer to a message of jobs offered directly.
// A message it takes is its to run or refuse, as if it came from its
// queue; one it does not take, the server queues.
type OfferReply struct {
	Taken bool `json:"taken,omitempty"`
}

// ReportReply is the server's answer to a report sent on an agent's
// report subject. Without Error, the report is applied and durable.
type ReportReply struct {
	// Error says why the server did not apply the report.
	Error string `json:"error,omitempty"`
}

// RequestID names a signed report among all others: the same report sent
// again has the same one, and any report made anew another.
func (r *Report) RequestID() string { return "request-" + digest([]string{string(r.Sig)}) }

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
