package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	json "github.com/go-json-experiment/json/v1"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// publishTimeout bounds one publication of a batch of jobs.
const publishTimeout = 10 * time.Second

// published remembers the jobs this process sent to their agent, so that
// the job loop sends a dispatched job once after a start: JetStream drops
// a repeat within its duplicate window, and the agent's journal refuses
// one after it. A job its agent took when offered is sent again once it
// has waited Options.Resend to be started, for an agent lost before it
// recorded the job; a queued one stays in the queue until its agent takes
// it. A job is forgotten when it ends, or when its publication failed and
// the job loop is to try again.
type published struct {
	mu sync.Mutex
	m  map[string]sending
}

// sending is when and how a job was sent.
type sending struct {
	at      time.Time
	offered bool
}

// claim records job id as being sent at now and reports whether it was
// due.
func (p *published) claim(id string, since, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dueLocked(id, since) {
		return false
	}
	if p.m == nil {
		p.m = map[string]sending{}
	}
	p.m[id] = sending{at: now}
	return true
}

// due reports whether job id is to be sent: not sent yet, or offered and
// taken before since.
func (p *published) due(id string, since time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dueLocked(id, since)
}

// dueLocked is due with p.mu held.
func (p *published) dueLocked(id string, since time.Time) bool {
	e, ok := p.m[id]
	return !ok || e.offered && e.at.Before(since)
}

// offered records that the agent of job id took it when offered.
func (p *published) offered(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[id]; ok {
		e.offered = true
		p.m[id] = e
	}
}

// forget drops job id.
func (p *published) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, id)
}

// outbox holds the jobs handed to one agent that wait to be published.
// One goroutine at a time publishes them, everything queued meanwhile in
// the next batch: a job alone when the server is quiet, up to
// wire.MaxBatch when it is busy, and never a wait for a batch to fill.
type outbox struct {
	mu   sync.Mutex
	jobs []*model.Job
	busy bool
}

// enqueue queues job j, handed to its agent in a committed write, to be
// published to that agent, unless it is queued or published already. j
// must not change afterwards.
func (s *Service) enqueue(j *model.Job) {
	now := time.Now()
	if s.bus == nil || j.AgentID == "" || !s.sent.claim(j.ID, now.Add(-s.opts.Resend), now) {
		return
	}
	v, _ := s.outboxes.LoadOrStore(j.AgentID, &outbox{})
	ob := v.(*outbox)
	ob.mu.Lock()
	ob.jobs = append(ob.jobs, j)
	start := !ob.busy
	ob.busy = true
	ob.mu.Unlock()
	if start {
		go s.drain(j.AgentID, ob)
	}
}

// drain publishes the jobs of an agent's outbox in batches until it is
// empty. A batch that fails goes back to the job loop.
func (s *Service) drain(agentID string, ob *outbox) {
	for {
		ob.mu.Lock()
		n := min(len(ob.jobs), wire.MaxBatch)
		if n == 0 {
			ob.jobs, ob.busy = nil, false
			ob.mu.Unlock()
			return
		}
		batch := slices.Clone(ob.jobs[:n])
		ob.jobs = slices.Delete(ob.jobs, 0, n)
		ob.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		err := s.publish(ctx, agentID, batch)
		cancel()
		if err != nil {
			for _, j := range batch {
				s.sent.forget(j.ID)
			}
			s.log.Warn("publishing jobs failed", "agent", agentID, "job_id", batch[0].ID,
				"jobs", len(batch), "error", err)
			s.kick()
		}
	}
}

// dispatch hands a waiting job to an agent of its zone and queues it for
// publication, unless it was sent already and is not due again. A job
// that has an agent already goes to that same agent, never to another.
// Without an agent in the zone, or with the vault closed, the job keeps
// waiting.
func (s *Service) dispatch(jobID string) error {
	if s.bus == nil || !s.vault.IsOpen() || !s.sent.due(jobID, time.Now().Add(-s.opts.Resend)) {
		return nil
	}
	job, err := s.getJob(jobID)
	if err != nil || job.State != model.JobWaitingAgent {
		return err
	}
	if job.AgentID == "" {
		if job, err = s.assign(job); err != nil || job == nil {
			return err
		}
	}
	s.enqueue(job)
	return nil
}

func (s *Service) getJob(id string) (*model.Job, error) {
	j := new(model.Job)
	if err := s.st.Get(store.JobKey(id), j); err != nil {
		return nil, fmt.Errorf("reading job %s: %w", id, err)
	}
	return j, nil
}

// assign records which agent a job is handed to, in a synced write before
// anything is published. It returns nil when the zone has no agent.
func (s *Service) assign(job *model.Job) (*model.Job, error) {
	agent, err := s.pickAgent(job.Zone)
	if err != nil || agent == nil {
		return nil, err
	}
	var out *model.Job
	ev := audit.Record{Actor: "system", Op: "job.dispatch", Path: job.Path, JobID: job.ID,
		Detail: "handed to agent " + agent.ID}
	err = s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		j := new(model.Job)
		if err := tx.Get(store.JobKey(job.ID), j); err != nil {
			return err
		}
		if j.State != model.JobWaitingAgent || j.AgentID != "" {
			out = j
			return nil
		}
		j.AgentID, j.Dispatched = agent.ID, s.now()
		j.Steps = append(j.Steps, model.JobStep{State: j.State, At: j.Dispatched,
			Note: "handed to agent " + agent.Name + " (" + agent.ID + ")"})
		out = j
		return tx.Put(store.JobKey(j.ID), j)
	})
	if err == nil && out.AgentID == agent.ID {
		s.agents.assign(agent.ID, 1)
	}
	return out, err
}

// preassign hands a new job to an agent of its zone in the write that
// records the job, which saves a write of its own; without an agent the
// job waits, and the job loop assigns it later.
func (s *Service) preassign(j *model.Job) error {
	if s.bus == nil {
		return nil
	}
	agent, err := s.pickAgent(j.Zone)
	if err != nil || agent == nil {
		return err
	}
	j.AgentID, j.Dispatched = agent.ID, j.Created
	j.Steps = append(j.Steps, model.JobStep{State: j.State, At: j.Created,
		Note: "handed to agent " + agent.Name + " (" + agent.ID + ")"})
	return nil
}

// cannotRun ends a job that no agent could run as it stands, leaving the
// credential as it was before the job.
func (s *Service) cannotRun(job *model.Job, reason, why string) error {
	s.log.Warn("job cannot run", "job_id", job.ID, "reason", reason)
	return s.updateJob(job.ID, "job.refused", s.refusal(&wire.Event{Reason: reason, Message: why}))
}

// handOut counts a preassigned job against its agent and queues it for
// publication once tx is applied; a job without an agent wakes the job
// loop once tx commits, which assigns it once one is online. j must not
// change once tx has been applied.
//
// The job may reach its agent before tx is durable: the agent touches
// the target only once the server has answered its request to start the
// job, which HandleAccept does only once tx, and every write before its
// own, is durable.
func (s *Service) handOut(tx *store.Tx, j *model.Job) {
	if j.AgentID == "" {
		tx.OnCommit(s.kick)
		return
	}
	tx.OnApply(func() {
		s.agents.assign(j.AgentID, 1)
		s.enqueue(j)
	})
}

// publish seals a batch of jobs to their agent and offers it to the
// agent, or puts it in the agent's queue when the agent does not take it
// at once. A job whose payload cannot be built is left out: it ends at once
// when it cannot run as it stands, and goes back to the job loop
// otherwise.
func (s *Service) publish(ctx context.Context, agentID string, jobs []*model.Job) error {
	agent, err := s.getAgent(agentID)
	if err != nil {
		return fmt.Errorf("reading agent %s: %w", agentID, err)
	}
	pk, err := s.agentKey(agent)
	if err != nil {
		return err
	}
	env := &wire.Envelope{AgentID: agent.ID}
	var ps []*wire.Payload
	defer func() {
		for _, p := range ps {
			p.Wipe()
		}
	}()
	for _, job := range jobs {
		p, err := s.payload(job)
		if err != nil {
			s.sent.forget(job.ID)
			s.leftOut(job, err)
			continue
		}
		env.Jobs = append(env.Jobs, wire.JobHeader{JobID: job.ID, Deadline: job.Deadline})
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil
	}
	sl, err := s.sealer(agent.ID, pk)
	if err != nil {
		return err
	}
	if err := env.SealWith(sl, ps...); err != nil {
		return fmt.Errorf("sealing jobs for agent %s: %w", agent.ID, err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if s.bus.OfferJob(ctx, env, data) {
		for _, h := range env.Jobs {
			s.sent.offered(h.JobID)
		}
		s.log.Debug("jobs taken", "job_id", env.Jobs[0].JobID, "jobs", len(env.Jobs),
			"agent", agent.ID)
		return nil
	}
	if _, ok := s.queues.Load(agent.ID); !ok {
		if err := s.bus.EnsureAgent(ctx, agent.ID); err != nil {
			return err
		}
		s.queues.Store(agent.ID, true)
	}
	if err := s.bus.PublishJob(ctx, env, data); err != nil {
		return err
	}
	s.log.Debug("jobs published", "job_id", env.Jobs[0].JobID, "jobs", len(env.Jobs),
		"agent", agent.ID)
	return nil
}

// sealer returns the sealer of the agent with id agentID and key pk: the
// one it has while that is fresh, or a new one. Only the agent's outbox
// publishes to it, one batch at a time, so no two callers make one at
// once.
func (s *Service) sealer(agentID string, pk *wire.PublicKey) (*wire.Sealer, error) {
	if v, ok := s.sealers.Load(agentID); ok {
		if sl := v.(*wire.Sealer); sl.Fresh(pk, time.Now()) {
			return sl, nil
		}
	}
	sl, err := wire.NewSealer(agentID, pk, s.opts.JobsKey)
	if err != nil {
		return nil, err
	}
	s.sealers.Store(agentID, sl)
	return sl, nil
}

// leftOut deals with a job whose payload could not be built.
func (s *Service) leftOut(job *model.Job, err error) {
	if errors.Is(err, errNoReconcile) {
		s.logErr("ending a job that cannot run", job.ID, s.cannotRun(job, "no_reconcile_login",
			err.Error()))
		return
	}
	s.logErr("building a job's payload", job.ID, err)
	s.kick()
}

// agentKey returns an agent's parsed HPKE public key, parsing it once.
func (s *Service) agentKey(a *model.Agent) (*wire.PublicKey, error) {
	if k, ok := s.hpkeKeys.Load(a.ID); ok {
		return k.(*wire.PublicKey), nil
	}
	k, err := wire.ParsePublicKey(a.HPKEKey)
	if err != nil {
		return nil, err
	}
	s.hpkeKeys.Store(a.ID, k)
	return k, nil
}

// payload builds what the agent needs to run a job, unsealing the values
// it carries.
func (s *Service) payload(job *model.Job) (*wire.Payload, error) {
	ch, err := chainOf(s.st, job.AccountID)
	if err != nil {
		return nil, err
	}
	acct, target := ch.leaf(), ch[len(ch)-2]
	p := &wire.Payload{JobID: job.ID, Driver: target.Type, Account: acct.Name, Type: string(job.Type),
		Target: wire.Target{Address: target.Address, Params: target.Params, HostKey: target.HostKey}}
	if len(job.Candidates) > 0 {
		p.Op = wire.OpCheck
		for _, n := range job.Candidates {
			v, err := s.unsealVersion(s.st, acct.ID, job.Type, n)
			if err != nil {
				p.Wipe()
				return nil, err
			}
			p.Candidates = append(p.Candidates, wire.Candidate{Version: n, Value: reveal(v)})
		}
		return p, nil
	}
	p.Op = wire.OpChange
	if err := s.changeValues(job, acct, target, p); err != nil {
		p.Wipe()
		return nil, err
	}
	return p, nil
}

// changeValues fills the values of a change: the new one, and the current
// one or the reconcile account's login.
func (s *Service) changeValues(job *model.Job, acct, target *model.Node, p *wire.Payload) error {
	v, err := s.unsealVersion(s.st, acct.ID, job.Type, job.Version)
	if err != nil {
		return err
	}
	p.New = reveal(v)
	if job.Reconcile {
		login, err := s.reconcileLogin(target)
		p.Reconcile = login
		return err
	}
	var cr model.Credential
	if err := s.st.Get(store.CredentialKey(acct.ID, job.Type), &cr); err != nil {
		return err
	}
	if cr.Current != 0 {
		cur, err := s.unsealVersion(s.st, acct.ID, job.Type, cr.Current)
		if err != nil {
			return err
		}
		p.Current = reveal(cur)
	}
	return nil
}

// errNoReconcile is a job that cannot run: its target's reconcile account
// is missing or has no credential to log in with.
var errNoReconcile = errors.New("no reconcile login")

// reconcileLogin returns the target's reconcile account and its current
// password, or else its SSH key, or else its PIN (a token's security
// officer has only a PIN).
func (s *Service) reconcileLogin(target *model.Node) (*wire.Login, error) {
	var id string
	if err := s.st.Get(store.ChildKey(target.ID, target.ReconcileAccount), &id); err != nil {
		if errNotFound(err) {
			return nil, fmt.Errorf("%w: target %q has no account %q", errNoReconcile,
				target.Name, target.ReconcileAccount)
		}
		return nil, fmt.Errorf("reading reconcile account %q: %w", target.ReconcileAccount, err)
	}
	for _, t := range model.CredentialTypes {
		var cr model.Credential
		if err := s.st.Get(store.CredentialKey(id, t), &cr); err != nil || cr.Current == 0 {
			continue
		}
		v, err := s.unsealVersion(s.st, id, t, cr.Current)
		if err != nil {
			return nil, err
		}
		return &wire.Login{Account: target.ReconcileAccount, Type: string(t), Value: reveal(v)}, nil
	}
	return nil, fmt.Errorf("%w: reconcile account %q has no current credential", errNoReconcile,
		target.ReconcileAccount)
}

// reveal copies a secret's bytes for a payload, which is wiped after use.
func reveal(v secret.Value) []byte { return append([]byte(nil), v.Reveal()...) }
