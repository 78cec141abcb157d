package model

import "time"

// Agent is an enrolled agent: where it serves and the public keys it
// enrolled with.
type Agent struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Zone     string    `json:"zone"`
	Enrolled time.Time `json:"enrolled"`
	// HPKEKey is the public key jobs are sealed to.
	HPKEKey []byte `json:"hpke_key"`
	// SigningKey is the Ed25519 public key of the agent's events.
	SigningKey []byte `json:"signing_key"`
	// NATSKey is the agent's NATS user nkey.
	NATSKey string `json:"nats_key"`
	Version string `json:"version,omitempty"`
}

// AgentToken is a one-time enrollment token as stored: only its hash.
type AgentToken struct {
	Hash    []byte    `json:"hash"`
	Zone    string    `json:"zone"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	By      string    `json:"by"`
	// UsedBy is the agent that enrolled with the token; set once.
	UsedBy string `json:"used_by,omitempty"`
}
