package service

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// Bus is what the service needs of NATS.
type Bus interface {
	// URLs are the NATS URLs agents connect to.
	URLs() []string
	// EnsureAgent creates the queue of an agent's jobs.
	EnsureAgent(ctx context.Context, agentID string) error
	// OfferJob offers sealed jobs to their agent directly and reports
	// whether it took them.
	OfferJob(ctx context.Context, env *wire.Envelope, data []byte) bool
	// PublishJob puts sealed jobs in their agent's queue.
	PublishJob(ctx context.Context, env *wire.Envelope, data []byte) error
	// EventsPending says how many agent events wait for the server.
	EventsPending(ctx context.Context) (uint64, error)
}

// Enrollment token lifetimes.
const (
	defaultEnrollTTL = time.Hour
	maxEnrollTTL     = 7 * 24 * time.Hour
)

// agentState is what the server knows of an agent from its heartbeats. It
// is kept in memory: after a restart, agents are offline until their next
// heartbeat.
type agentState struct {
	lastSeen time.Time
	version  string
	drivers  []string
	inFlight int
}

// agents tracks heartbeats.
type agents struct {
	mu sync.Mutex
	m  map[string]agentState
	// assigned counts the unfinished jobs handed to each agent, so that
	// jobs dispatched between two heartbeats spread too.
	assigned map[string]int
}

func (a *agents) assign(id string, delta int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.assigned == nil {
		a.assigned = map[string]int{}
	}
	a.assigned[id] = max(0, a.assigned[id]+delta)
}

func (a *agents) load(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.assigned[id]
}

func (a *agents) get(id string) agentState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[id]
}

func (a *agents) set(id string, st agentState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]agentState{}
	}
	a.m[id] = st
}

// CreateAgentToken makes a one-time enrollment token for an agent of a
// zone. It needs manage_agents on the vault.
func (s *Service) CreateAgentToken(c *Caller, req *api.AgentTokenRequest) (*api.AgentToken, error) {
	var out *api.AgentToken
	ev := event(c, "agent.token.create", "")
	ev.Detail = "zone " + req.Zone
	err := s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := s.authorizeRoot(tx, c, auth.OpManageAgents); err != nil {
			return err
		}
		if err := checkName("zone", req.Zone); err != nil {
			return err
		}
		ttl := time.Duration(req.TTLSeconds) * time.Second
		if ttl == 0 {
			ttl = defaultEnrollTTL
		}
		if ttl < time.Minute || ttl > maxEnrollTTL {
			return api.Errorf(api.CodeInvalidArgument, "an enrollment token lives from 1m to %v", maxEnrollTTL)
		}
		tok, hash := auth.NewToken()
		now := s.now()
		t := &model.AgentToken{Hash: hash, Zone: req.Zone, Created: now, Expires: now.Add(ttl), By: c.User}
		out = &api.AgentToken{Token: string(tok.Reveal()), Zone: req.Zone, Expires: t.Expires}
		return tx.Put(store.EnrollTokenKey(hash), t)
	})
	return out, err
}

var errBadEnrollToken = api.Errorf(api.CodeUnauthenticated,
	"the enrollment token is unknown, used or expired; create one with passman agent token create")

// Enroll registers an agent with a one-time token: it records the agent's
// public keys and zone, and creates its job queue.
func (s *Service) Enroll(ctx context.Context, req *api.EnrollRequest) (*api.EnrollResponse, error) {
	if s.bus == nil {
		return nil, api.Errorf(api.CodeInvalidArgument, "this server runs without NATS; agents cannot enroll")
	}
	a := &model.Agent{ID: model.NewID(), Name: req.Name, Enrolled: s.now(), HPKEKey: req.HPKEKey,
		SigningKey: req.SigningKey, NATSKey: req.NATSKey, Version: req.Version}
	ev := audit.Record{Actor: "agent:" + a.ID, Op: "agent.enroll"}
	err := s.write(ev, func(tx *store.Tx, ev *audit.Record) error {
		if err := checkEnrollKeys(req); err != nil {
			return err
		}
		if err := checkName("agent", req.Name); err != nil {
			return err
		}
		var t model.AgentToken
		if auth.CheckTokenForm(req.Token.Value) != nil {
			return errBadEnrollToken
		}
		key := store.EnrollTokenKey(auth.HashToken(req.Token.Value))
		if err := tx.Get(key, &t); err != nil {
			return errors.Join(ignoreNotFound(err), errBadEnrollToken)
		}
		if t.UsedBy != "" || s.now().After(t.Expires) {
			return errBadEnrollToken
		}
		if ok, err := tx.Has(store.AgentNATSKey(req.NATSKey)); err != nil || ok {
			return errors.Join(err, api.Errorf(api.CodeAlreadyExists, "an agent with this NATS key is enrolled"))
		}
		a.Zone, t.UsedBy = t.Zone, a.ID
		ev.Detail = "agent " + a.Name + " in zone " + a.Zone
		if err := tx.Put(key, t); err != nil {
			return err
		}
		if err := tx.Put(store.AgentNATSKey(a.NATSKey), a.ID); err != nil {
			return err
		}
		tx.OnCommit(func() { s.agentDir.Store(a.ID, a) })
		return tx.Put(store.AgentKey(a.ID), a)
	})
	if err != nil {
		return nil, err
	}
	if err := s.bus.EnsureAgent(ctx, a.ID); err != nil {
		return nil, s.internal("creating the agent's job queue", err)
	}
	s.log.Info("agent enrolled", "agent", a.ID, "name", a.Name, "zone", a.Zone)
	s.kick()
	var jobsKey []byte
	if s.opts.JobsKey != nil {
		jobsKey = s.opts.JobsKey.Public().(ed25519.PublicKey)
	}
	return &api.EnrollResponse{AgentID: a.ID, Zone: a.Zone, NATS: s.bus.URLs(),
		CACert: string(s.opts.CACert), JobsKey: jobsKey}, nil
}

func ignoreNotFound(err error) error {
	if errNotFound(err) {
		return nil
	}
	return err
}

// checkEnrollKeys validates the public keys an agent enrolls with.
func checkEnrollKeys(req *api.EnrollRequest) error {
	if wire.CheckHPKEPublic(req.HPKEKey) != nil {
		return api.Errorf(api.CodeInvalidArgument, "hpke_key is not an ML-KEM-768+X25519 public key")
	}
	if len(req.SigningKey) != ed25519.PublicKeySize {
		return api.Errorf(api.CodeInvalidArgument, "signing_key is not an Ed25519 public key")
	}
	if !nkeys.IsValidPublicUserKey(req.NATSKey) {
		return api.Errorf(api.CodeInvalidArgument, "nats_key is not a NATS user public nkey")
	}
	if len(req.Version) > 64 {
		return api.Errorf(api.CodeInvalidArgument, "version is longer than 64 bytes")
	}
	return nil
}

// AgentByNATSKey returns the id of the agent enrolled with a NATS nkey.
func (s *Service) AgentByNATSKey(key string) (string, bool) {
	var id string
	if err := s.st.Get(store.AgentNATSKey(key), &id); err != nil {
		return "", false
	}
	return id, true
}

// getAgent reads an enrolled agent.
func (s *Service) getAgent(id string) (*model.Agent, error) {
	a := new(model.Agent)
	if err := s.st.Get(store.AgentKey(id), a); err != nil {
		return nil, err
	}
	return a, nil
}

// Heartbeat records an agent's signed heartbeat. Unsigned or forged ones
// are dropped.
func (s *Service) Heartbeat(agentID string, hb *wire.Heartbeat) {
	a, err := s.getAgent(agentID)
	if err != nil || hb.AgentID != agentID || hb.Verify(a.SigningKey) != nil {
		s.log.Warn("heartbeat dropped", "agent", agentID, "reason", "unknown agent or bad signature")
		return
	}
	was := s.agents.get(agentID)
	s.agents.set(agentID, agentState{lastSeen: s.now(), version: hb.Version,
		drivers: hb.Drivers, inFlight: hb.InFlight})
	for _, d := range hb.Describe {
		s.drivers.Store(d.Name, d)
	}
	if s.now().Sub(was.lastSeen) > s.opts.AgentLive {
		s.log.Info("agent online", "agent", agentID, "zone", a.Zone, "version", hb.Version)
		s.kick()
	}
}

// ListAgents lists the enrolled agents with what their heartbeats said. It
// needs manage_agents or read on the vault.
func (s *Service) ListAgents(c *Caller) (*api.AgentList, error) {
	out := &api.AgentList{Agents: []api.Agent{}}
	err := s.read(event(c, "agent.list", ""), func(*audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpManageAgents); err != nil {
			if s.authorizeRoot(s.st, c, auth.OpRead) != nil {
				return err
			}
		}
		return store.ScanJSON(s.st, store.AgentPrefix(), func(a *model.Agent) error {
			st := s.agents.get(a.ID)
			out.Agents = append(out.Agents, api.Agent{ID: a.ID, Name: a.Name, Zone: a.Zone,
				Enrolled: a.Enrolled, LastSeen: st.lastSeen, Online: s.online(st),
				Version: cmpOr(st.version, a.Version), Drivers: st.drivers, InFlight: st.inFlight})
			return nil
		})
	})
	return out, err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Service) online(st agentState) bool {
	return !st.lastSeen.IsZero() && s.now().Sub(st.lastSeen) <= s.opts.AgentLive
}

// pickAgent chooses the agent of a zone to hand a job to: the online one
// with the fewest jobs in flight, or else the one seen last, whose queue
// keeps the job until it returns. It returns nil when the zone has no
// agent.
func (s *Service) pickAgent(zone string) (*model.Agent, error) {
	all, err := s.enrolled()
	if err != nil {
		return nil, err
	}
	var best *model.Agent
	var bestState agentState
	for _, a := range all {
		if a.Zone != zone {
			continue
		}
		st := s.agents.get(a.ID)
		st.inFlight = s.agents.load(a.ID)
		if best == nil || better(s.online(st), st, s.online(bestState), bestState) {
			best, bestState = a, st
		}
	}
	return best, nil
}

// enrolled returns every enrolled agent, read from the store once and then
// kept up to date by Enroll.
func (s *Service) enrolled() ([]*model.Agent, error) {
	s.agentsOnce.Do(func() {
		s.agentsErr = store.ScanJSON(s.st, store.AgentPrefix(), func(a *model.Agent) error {
			s.agentDir.Store(a.ID, a)
			return nil
		})
	})
	if s.agentsErr != nil {
		return nil, s.agentsErr
	}
	var out []*model.Agent
	s.agentDir.Range(func(_, v any) bool {
		out = append(out, v.(*model.Agent))
		return true
	})
	return out, nil
}

// better reports whether an agent in state a beats one in state b.
func better(aOnline bool, a agentState, bOnline bool, b agentState) bool {
	if aOnline != bOnline {
		return aOnline
	}
	if aOnline && a.inFlight != b.inFlight {
		return a.inFlight < b.inFlight
	}
	return a.lastSeen.After(b.lastSeen)
}

// NATSAuthorization returns the authorization block an external NATS
// server needs for PassMan: the server's own nkey with every permission,
// and each enrolled agent's nkey with its own subjects only. Operators who
// run PassMan on their NATS cluster include it in the cluster's config and
// reload it after each enrollment. It needs manage_agents.
func (s *Service) NATSAuthorization(c *Caller, serverKey string) (*api.NATSConfig, error) {
	out := &api.NATSConfig{}
	err := s.read(event(c, "agent.nats_config", ""), func(*audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpManageAgents); err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString("authorization {\n  users = [\n")
		fmt.Fprintf(&b, "    { nkey: %q }\n", serverKey)
		err := store.ScanJSON(s.st, store.AgentPrefix(), func(a *model.Agent) error {
			pub, sub := wire.AgentPermissions(a.ID)
			fmt.Fprintf(&b, "    { nkey: %q, permissions: { publish: { allow: %s }, "+
				"subscribe: { allow: %s }, allow_responses: { max: 1, expires: %q } } }\n",
				a.NATSKey, quoteList(pub), quoteList(sub), wire.AnswerWindow.String())
			return nil
		})
		b.WriteString("  ]\n}\n")
		out.Authorization = b.String()
		return err
	})
	return out, err
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
