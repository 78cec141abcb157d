package api

import "time"

// AgentTokenRequest is the body of POST /v1/agents/tokens.
type AgentTokenRequest struct {
	Zone string `json:"zone"`
	// TTLSeconds is how long the token may be used. Default one hour.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// AgentToken answers POST /v1/agents/tokens with a one-time enrollment
// token, shown once.
type AgentToken struct {
	Token   string    `json:"token"`
	Zone    string    `json:"zone"`
	Expires time.Time `json:"expires"`
}

// EnrollRequest is the body of POST /v1/agents/enroll. It carries no API
// token: the enrollment token is the credential, good for one use.
type EnrollRequest struct {
	Token Secret `json:"token"`
	Name  string `json:"name"`
	// HPKEKey is the public key jobs are sealed to.
	HPKEKey []byte `json:"hpke_key"`
	// SigningKey is the Ed25519 public key the agent signs events with.
	SigningKey []byte `json:"signing_key"`
	// NATSKey is the agent's NATS user public nkey.
	NATSKey string `json:"nats_key"`
	Version string `json:"version"`
}

// EnrollResponse answers an enrollment.
type EnrollResponse struct {
	AgentID string   `json:"agent_id"`
	Zone    string   `json:"zone"`
	NATS    []string `json:"nats"`
	// CACert is the PEM of the CA that signs the NATS server's certificate.
	CACert string `json:"ca_cert"`
	// JobsKey is the Ed25519 public key the server signs the jobs it
	// sends the agent with.
	JobsKey []byte `json:"jobs_key"`
}

// Agent describes an enrolled agent.
type Agent struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Zone     string    `json:"zone"`
	Enrolled time.Time `json:"enrolled"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	Online   bool      `json:"online"`
	Version  string    `json:"version,omitempty"`
	Drivers  []string  `json:"drivers,omitempty"`
	InFlight int       `json:"in_flight"`
}

// AgentList answers GET /v1/agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
}

// CheckRequest is the body of POST /v1/accounts/check: Check Credentials
// of accounts by path, of every account of a target, or of all accounts.
type CheckRequest struct {
	Paths  []string `json:"paths,omitempty"`
	Target string   `json:"target,omitempty"`
	All    bool     `json:"all,omitempty"`
}

// CheckResponse answers a check with the jobs it started.
type CheckResponse struct {
	Jobs []JobRef `json:"jobs"`
}

// JobRef names a job and what it is about.
type JobRef struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// NATSConfig answers GET /v1/agents/nats-config: the authorization block of
// an external NATS server's configuration.
type NATSConfig struct {
	Authorization string `json:"authorization"`
}
