// Package service is PassMan's operations layer: every request of the API
// goes through one method here, which validates the input, checks that the
// caller may do it, acts on the store in one synced write, and leaves one
// audit record of the outcome, whether it succeeded or was refused.
//
// Methods return *api.Error for every refusal, with a stable code; any other
// error is a fault of the server, logged here and answered as "internal".
package service

import (
	"crypto/ed25519"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// Caller is who makes a request: a user and the groups it belongs to.
type Caller struct {
	User   string
	Groups []string
}

// Options configures a Service.
type Options struct {
	// JobDeadline is how long a change on a target may wait for an agent
	// and run. Default 10 minutes.
	JobDeadline time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// CACert is the PEM of the CA agents trust for NATS.
	CACert []byte
	// JobsKey is the key the server signs the sealers of agents' jobs
	// with; agents learn its public half when they enroll. Required to
	// send jobs to agents.
	JobsKey ed25519.PrivateKey
	// Tick is how often unfinished jobs are looked at. Default 1s.
	Tick time.Duration
	// Grace is how long after a job's deadline the server waits for the
	// agent's events before it decides the job's outcome. Default 5s.
	Grace time.Duration
	// AgentLive is how recent an agent's last heartbeat must be for the
	// agent to count as online. Default 15s, three heartbeats.
	AgentLive time.Duration
	// Resend is how long a job its agent took when offered may wait to be
	// started before it is sent again, to the same agent: one that was
	// lost before it recorded the job gets it again when it is back, and
	// one that recorded it refuses it. Default 30s.
	Resend time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.JobDeadline == 0 {
		o.JobDeadline = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick == 0 {
		o.Tick = time.Second
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	if o.AgentLive == 0 {
		o.AgentLive = 15 * time.Second
	}
	if o.Resend == 0 {
		o.Resend = 30 * time.Second
	}
}

// Service runs PassMan's operations on a store and its vault.
type Service struct {
	st    *store.Store
	vault *vault.Vault
	log   hclog.Logger
	opts  Options

	bus     Bus
	agents  agents
	sent    published
	waiters waiters
	// outboxes holds an *outbox of jobs to publish per agent id.
	outboxes sync.Map
	// queues remembers the agents whose job queue exists in this process.
	queues sync.Map
	// sealers holds the *wire.Sealer of each agent id.
	sealers sync.Map
	// hpkeKeys holds the agents' parsed public keys.
	hpkeKeys sync.Map
	// drivers holds the descriptions agents report of their drivers, by
	// name, to check targets against.
	drivers sync.Map
	// agentDir holds the enrolled agents by id, loaded once.
	agentDir   sync.Map
	agentsOnce sync.Once
	agentsErr  error
	// kickCh wakes the job loop early: an agent came online, a job was
	// recorded.
	kickCh chan struct{}
}

// New returns a Service on st and v.
func New(st *store.Store, v *vault.Vault, log hclog.Logger, opts Options) *Service {
	opts.EnsureDefaults()
	return &Service{st: st, vault: v, log: log, opts: opts, kickCh: make(chan struct{}, 1)}
}

// kick wakes the job loop.
func (s *Service) kick() {
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// Vault returns the service's vault.
func (s *Service) Vault() *vault.Vault { return s.vault }

// Store returns the service's store.
func (s *Service) Store() *store.Store { return s.st }

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// event starts the audit record of a request.
func event(c *Caller, op, path string) audit.Record {
	return audit.Record{Actor: c.User, Op: op, Path: path}
}

// write runs fn in one store update and records its audit event there. If
// fn fails, nothing it staged is written and the failure is audited on its
// own.
func (s *Service) write(ev audit.Record, fn func(tx *store.Tx, ev *audit.Record) error) error {
	err := s.st.Update(func(tx *store.Tx) error {
		if err := fn(tx, &ev); err != nil {
			return err
		}
		ev.Outcome = audit.OK
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return s.fail(ev, err)
	}
	return nil
}

// read runs fn outside the write lock and then records its audit event.
// The caller's answer waits for that record's sync, which also covers
// every write fn may have seen.
func (s *Service) read(ev audit.Record, fn func(ev *audit.Record) error) error {
	if err := fn(&ev); err != nil {
		return s.fail(ev, err)
	}
	ev.Outcome = audit.OK
	if err := s.st.AppendAudit(ev); err != nil {
		return s.internal("writing audit record", err)
	}
	return nil
}

// fail audits a refused or failed request and returns the error to answer
// with: the *api.Error itself, or an internal error for anything else.
func (s *Service) fail(ev audit.Record, err error) error {
	var ae *api.Error
	if !errors.As(err, &ae) {
		err = s.internal("handling "+ev.Op, err)
		errors.As(err, &ae)
		ev.Outcome = audit.Failed
	} else {
		ev.Outcome = audit.Refused
	}
	ev.Code = string(ae.Code)
	ev.Detail = ae.Message
	if aerr := s.st.AppendAudit(ev); aerr != nil {
		s.log.Error("writing audit record failed", "op", ev.Op, "error", aerr)
	}
	return err
}

// internal logs err and returns the error a client sees for it.
func (s *Service) internal(doing string, err error) error {
	s.log.Error("request failed", "doing", doing, "error", err)
	return api.Errorf(api.CodeInternal, "internal error while %s; see the server log", doing)
}

// needOpen refuses when the vault is closed. Nothing else is said, so that
// a closed vault gives away no names.
func (s *Service) needOpen() error {
	if !s.vault.IsOpen() {
		return errVaultClosed
	}
	return nil
}

var errVaultClosed = api.Errorf(api.CodeVaultClosed,
	"the vault is closed; open it with passman vault open")

// Refused audits a request refused before it reached a service method, such
// as one without a valid token.
func (s *Service) Refused(actor, op string, e *api.Error) {
	if actor == "" {
		actor = "-"
	}
	_ = s.fail(audit.Record{Actor: actor, Op: op}, e)
}
