package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// unchangedReasons are the failures of a change that the agent reports
// before any driver touched the target. After any other failure the target
// may hold either value, whatever the driver said: a connection can drop
// after the target took the new one, so a check settles it.
//
// A refusal with one of these reasons ends the job at once. already_run is
// not among them: the agent took the job before and may have run it.
var unchangedReasons = []string{"no_driver", "bad_job", "bad_seal", "deadline_passed", "not_started"}

// HandleEvent applies an event an agent published on its subject. An event
// that is not signed by that agent, or is about a job that agent was not
// handed, is dropped and audited; it never changes a credential. The
// returned error asks for the event to be delivered again.
func (s *Service) HandleEvent(agentID string, data []byte) error {
	var e wire.Event
	if err := json.Unmarshal(data, &e); err != nil {
		s.rejectEvent(agentID, "", "undecodable event")
		return nil
	}
	agent, err := s.getAgent(agentID)
	if errNotFound(err) {
		s.rejectEvent(agentID, e.JobID, "event from an unknown agent")
		return nil
	}
	if err != nil {
		return err
	}
	if e.AgentID != agentID || e.Verify(agent.SigningKey) != nil {
		s.rejectEvent(agentID, e.JobID, "event signature does not verify")
		return nil
	}
	job, err := s.getJob(e.JobID)
	if errors.Is(err, store.ErrNotFound) || err == nil && job.AgentID != agentID {
		s.rejectEvent(agentID, e.JobID, "event about a job the agent was not handed")
		return nil
	}
	if err != nil || job.State.Final() {
		return err
	}
	switch e.Kind {
	case wire.EventAccepted:
		return s.jobAccepted(job, agentID)
	case wire.EventResult:
		return s.jobResult(job, &e)
	case wire.EventRefused:
		s.log.Info("agent refused job", "job_id", job.ID, "agent", agentID, "reason", e.Reason)
		if slices.Contains(unchangedReasons, e.Reason) {
			return s.jobRefused(job, &e)
		}
		return nil
	}
	s.rejectEvent(agentID, e.JobID, "unknown event kind")
	return nil
}

// rejectEvent audits and logs an event that was dropped.
func (s *Service) rejectEvent(agentID, jobID, why string) {
	s.log.Warn("agent event rejected", "agent", agentID, "job_id", jobID, "reason", why)
	_ = s.st.AppendAudit(audit.Record{Actor: "agent:" + agentID, Op: "job.event", JobID: jobID,
		Outcome: audit.Refused, Code: "bad_event", Detail: why})
}

// jobRefused ends a job its agent refused before touching the target. The
// job is never handed to another agent, so its pending value is dropped
// and the credential goes back to its status before the job.
func (s *Service) jobRefused(job *model.Job, e *wire.Event) error {
	return s.updateJob(job.ID, "job.refused", func(_ *store.Tx, j *model.Job, a *account) error {
		cr, ok := a.creds[j.Type]
		if !ok {
			return fmt.Errorf("job %s: account has no %s", j.ID, j.Type)
		}
		if len(j.Candidates) == 0 || j.Kind != model.JobResolve {
			if len(j.Candidates) == 0 {
				cr.Pending, cr.PendingJob = 0, ""
			}
			cr.Status, cr.Reason = j.PrevStatus, j.PrevReason
		}
		j.Reason = e.Reason
		j.Outcome = "not run: " + e.Reason
		if e.Message != "" {
			j.Outcome += ": " + e.Message
		}
		j.Enter(model.JobFailed, s.now(), j.Outcome)
		return nil
	})
}

// jobAccepted moves a job to running. Only the job changes: its account
// is as the job left it until the result.
func (s *Service) jobAccepted(job *model.Job, agentID string) error {
	ev := audit.Record{Actor: "agent:" + agentID, Op: "job.accepted", JobID: job.ID, Path: job.Path}
	return s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		j := new(model.Job)
		if err := tx.Get(store.JobKey(job.ID), j); err != nil {
			return err
		}
		if j.State != model.JobWaitingAgent {
			return nil
		}
		j.Enter(model.JobRunning, s.now(), "started by agent "+agentID)
		return putJob(tx, j, model.JobWaitingAgent)
	})
}

// updateJob loads a job and its account in a write, lets fn change them,
// and saves both. Final jobs are left alone.
func (s *Service) updateJob(id, op string, fn func(*store.Tx, *model.Job, *account) error) error {
	ev := audit.Record{Actor: "system", Op: op, JobID: id}
	return s.write(ev, func(tx *store.Tx, ev *audit.Record) error {
		j := new(model.Job)
		if err := tx.Get(store.JobKey(id), j); err != nil {
			return err
		}
		if j.State.Final() {
			return nil
		}
		old := j.State
		ev.Path = j.Path
		if j.AgentID != "" {
			ev.Actor = "agent:" + j.AgentID
		}
		ch, err := accountChain(tx, s.st, j.AccountID)
		if err != nil {
			return err
		}
		a, err := loadAccount(tx, ch)
		if err != nil {
			return err
		}
		if err := fn(tx, j, a); err != nil {
			return err
		}
		ev.Detail = j.Outcome
		if j.State.Final() {
			tx.OnCommit(func() {
				if j.AgentID != "" {
					s.agents.assign(j.AgentID, -1)
				}
				s.waiters.done(j.ID)
			})
		}
		if err := putJob(tx, j, old); err != nil {
			return err
		}
		return a.save(tx)
	})
}

// jobResult applies the outcome an agent reported.
func (s *Service) jobResult(job *model.Job, e *wire.Event) error {
	var next *model.Job
	err := s.updateJob(job.ID, "job.result", func(tx *store.Tx, j *model.Job, a *account) error {
		cr, ok := a.creds[j.Type]
		if !ok {
			return fmt.Errorf("job %s: account has no %s", j.ID, j.Type)
		}
		if e.HostKey != "" {
			if err := pinHostKey(tx, a, e.HostKey); err != nil {
				return err
			}
		}
		a.node.LastAction = &model.Action{Op: string(j.Kind), By: j.RequestedBy, At: s.now()}
		if len(j.Candidates) > 0 {
			s.settleCheck(tx, j, cr, e)
			return nil
		}
		var err error
		next, err = s.settleChange(tx, j, cr, e)
		return err
	})
	if err == nil && next != nil {
		s.kick()
	}
	return err
}

// pinHostKey records the target's host key the first time one is seen.
func pinHostKey(tx *store.Tx, a *account, key string) error {
	target := a.ch[len(a.ch)-2]
	if target.HostKey != "" {
		return nil
	}
	t := new(model.Node)
	if err := tx.Get(store.NodeKey(target.ID), t); err != nil {
		return err
	}
	t.HostKey = key
	return tx.Put(store.NodeKey(t.ID), t)
}

// settleChange applies the result of a change: the pending version becomes
// current, or is dropped when the target surely kept the current one, or
// the outcome is unknown and a resolve job checks every candidate.
func (s *Service) settleChange(tx *store.Tx, j *model.Job, cr *model.Credential,
	e *wire.Event) (*model.Job, error) {
	now := s.now()
	switch {
	case e.OK:
		s.promote(tx, cr, cr.Pending, now)
		j.Outcome = "changed on target"
		j.Enter(model.JobSucceeded, now, j.Outcome)
		return nil, nil
	case slices.Contains(unchangedReasons, e.Reason):
		cr.Pending, cr.PendingJob = 0, ""
		cr.Status, cr.Reason = j.PrevStatus, j.PrevReason
		j.Reason, j.Outcome = e.Reason, "not changed: "+e.Message
		j.Enter(model.JobFailed, now, j.Outcome)
		return nil, nil
	}
	return s.resolveUnknown(tx, j, cr, e.Reason, "failed: "+e.Message)
}

// resolveUnknown fails a change whose outcome is unknown, marks the
// credential Unknown and records a job that checks the current and the
// pending value to settle which one the target holds.
func (s *Service) resolveUnknown(tx *store.Tx, j *model.Job, cr *model.Credential,
	reason, outcome string) (*model.Job, error) {
	now := s.now()
	r := &model.Job{ID: model.NewID(), Kind: model.JobResolve, AccountID: j.AccountID, Path: j.Path,
		Type: j.Type, RequestedBy: "system", ChangeOnTarget: true, Created: now, Zone: j.Zone,
		Deadline: now.Add(s.opts.JobDeadline), Resolves: j.ID, PrevStatus: model.Unknown}
	r.Candidates = candidates(cr)
	r.Enter(model.JobWaitingAgent, now, "settles job "+j.ID)
	if err := s.preassign(r); err != nil {
		return nil, err
	}
	s.countAssigned(tx, r)
	cr.Status, cr.Reason, cr.PendingJob = model.Unknown, reason, r.ID
	j.Reason, j.Outcome = reason, outcome+"; job "+r.ID+" checks which value the target holds"
	j.Enter(model.JobFailed, now, j.Outcome)
	return r, putJob(tx, r, "")
}

// candidates lists the values a check tries: the current one, then the
// pending one.
func candidates(cr *model.Credential) []uint64 {
	var out []uint64
	if cr.Current != 0 {
		out = append(out, cr.Current)
	}
	if cr.Pending != 0 && cr.Pending != cr.Current {
		out = append(out, cr.Pending)
	}
	return out
}

// promote makes version n current and the credential InSync.
func (s *Service) promote(g getter, cr *model.Credential, n uint64, now time.Time) {
	if n != cr.Current {
		var v model.Version
		if err := g.Get(store.VersionKey(cr.AccountID, cr.Type, n), &v); err == nil {
			cr.Compliance = v.Compliant
			cr.Violations = nil
		}
		cr.Current, cr.ChangedAt = n, now
	}
	cr.Pending, cr.PendingJob = 0, ""
	cr.Status, cr.Reason, cr.CheckedAt = model.InSync, "", now
}

// settleCheck applies the outcomes of a check: the first candidate that
// logged in becomes current and InSync; if none did, the credential is
// NotInSync with the current value's reason.
func (s *Service) settleCheck(g getter, j *model.Job, cr *model.Credential, e *wire.Event) {
	now := s.now()
	for _, c := range e.Checks {
		if c.OK && slices.Contains(j.Candidates, c.Version) {
			s.promote(g, cr, c.Version, now)
			j.Outcome = fmt.Sprintf("version %d works on the target", c.Version)
			j.Enter(model.JobSucceeded, now, j.Outcome)
			return
		}
	}
	reason := e.Reason
	if len(e.Checks) > 0 {
		reason = e.Checks[0].Reason
	}
	if reason == "" {
		reason = "failed"
	}
	if j.Kind == model.JobResolve {
		cr.Pending, cr.PendingJob = 0, ""
	}
	cr.Status, cr.Reason, cr.CheckedAt = model.NotInSync, reason, now
	j.Reason, j.Outcome = reason, "no value logs in: "+reason
	j.Enter(model.JobFailed, now, j.Outcome)
}
