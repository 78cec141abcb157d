package service

import (
	"errors"
	"fmt"
	"slices"
	"time"

	json "github.com/go-json-experiment/json/v1"

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

// HandleEvent applies a report an agent published on its subject: all of
// its events in one write. A report that is not signed by that agent is
// dropped and audited, and so is an event about a job that agent was not
// handed; neither ever changes a credential. The returned error asks for
// the report to be delivered again; applying it again changes nothing
// that it changed already.
func (s *Service) HandleEvent(agentID string, data []byte) error {
	r, err := s.signedReport(agentID, data, "report")
	if errors.Is(err, errRejected) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.applyEvents(agentID, r.Events)
}

// errRejected is returned for a report that is not its agent's. It is
// audited already.
var errRejected = errors.New("the report is not the agent's")

// signedReport decodes a report agentID sent as data, what it is called
// in the audit trail, and checks that the agent signed it. A report it
// rejects is audited, and errRejected returned.
func (s *Service) signedReport(agentID string, data []byte, what string) (*wire.Report, error) {
	r := new(wire.Report)
	if err := json.Unmarshal(data, r); err != nil || len(r.Events) == 0 ||
		len(r.Events) > wire.MaxReport {
		s.rejectEvent(agentID, "", "undecodable "+what)
		return nil, errRejected
	}
	agent, err := s.getAgent(agentID)
	if errNotFound(err) {
		s.rejectEvent(agentID, r.Events[0].JobID, what+" from an unknown agent")
		return nil, errRejected
	}
	if err != nil {
		return nil, err
	}
	if r.AgentID != agentID || r.Verify(agent.SigningKey) != nil {
		s.rejectEvent(agentID, r.Events[0].JobID, what+" signature does not verify")
		return nil, errRejected
	}
	return r, nil
}

// handedJob reads job id through tx for an event of agentID. It returns
// nil when there is no such job, or when it was handed to another agent.
func handedJob(tx *store.Tx, agentID, id string) (*model.Job, error) {
	j := new(model.Job)
	err := tx.Get(store.JobKey(id), j)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && j.AgentID != agentID:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return j, nil
}

// HandleReport answers a report an agent sent in a request, as
// HandleEvent applies one from the event stream. The answer says the
// report is applied and durable, or why not: the agent then publishes it
// on its event subject.
func (s *Service) HandleReport(agentID string, data []byte, answer func([]byte)) {
	reply := &wire.ReportReply{}
	if err := s.HandleEvent(agentID, data); err != nil {
		reply.Error = "the report could not be applied"
	}
	answer(encodeReply(reply))
}

// encodeReply encodes the answer to an agent's request.
func encodeReply(reply any) []byte {
	b, err := json.Marshal(reply)
	if err != nil {
		return []byte(`{"error":"the reply could not be encoded"}`)
	}
	return b
}

// rejected is an event dropped while a report was applied.
type rejected struct{ jobID, why string }

// applyEvents applies the events of one report in one write, each to its
// job and account, with an audit record per job step.
func (s *Service) applyEvents(agentID string, evs []wire.Event) error {
	var drop []rejected
	err := s.st.Update(func(tx *store.Tx) error {
		drop = drop[:0]
		for i := range evs {
			e := &evs[i]
			j, err := handedJob(tx, agentID, e.JobID)
			if err != nil {
				return err
			}
			if j == nil {
				drop = append(drop, rejected{e.JobID, "event about a job the agent was not handed"})
				continue
			}
			if j.State.Final() {
				continue
			}
			why, err := s.applyEvent(tx, agentID, j, e)
			if err != nil {
				return err
			}
			if why != "" {
				drop = append(drop, rejected{e.JobID, why})
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("applying agent events failed", "agent", agentID, "events", len(evs),
			"error", err)
		return err
	}
	for _, d := range drop {
		s.rejectEvent(agentID, d.jobID, d.why)
	}
	return nil
}

// applyEvent applies one event to its job j, not final, read through tx.
// It returns why it dropped the event, if it did.
func (s *Service) applyEvent(tx *store.Tx, agentID string, j *model.Job, e *wire.Event) (
	string, error) {
	switch e.Kind {
	case wire.EventResult:
		return "", s.jobResult(tx, j, e)
	case wire.EventRefused:
		s.log.Info("agent refused job", "job_id", j.ID, "agent", agentID, "reason", e.Reason)
		if slices.Contains(unchangedReasons, e.Reason) {
			return "", s.jobRefused(tx, j, e)
		}
		return "", nil
	}
	return "unknown event kind", nil
}

// rejectEvent audits and logs an event that was dropped.
func (s *Service) rejectEvent(agentID, jobID, why string) {
	s.log.Warn("agent event rejected", "agent", agentID, "job_id", jobID, "reason", why)
	_ = s.st.AppendAudit(audit.Record{Actor: "agent:" + agentID, Op: "job.event", JobID: jobID,
		Outcome: audit.Refused, Code: "bad_event", Detail: why})
}

// jobRefused ends job j, read through tx, that its agent refused before
// touching the target.
func (s *Service) jobRefused(tx *store.Tx, j *model.Job, e *wire.Event) error {
	return s.changeJob(tx, j, "job.refused", s.refusal(e))
}

// refusal ends a job that was refused before any agent touched the target.
// The job is never handed to another agent, so its pending value is
// dropped and the credential goes back to its status before the job.
func (s *Service) refusal(e *wire.Event) func(*store.Tx, *model.Job, *account) error {
	return func(_ *store.Tx, j *model.Job, a *account) error {
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
	}
}

// jobAccepted moves job j, waiting for its agent, to running, started by
// the request named request. Only the job changes: its account is as the
// job left it until the result.
func (s *Service) jobAccepted(tx *store.Tx, j *model.Job, agentID, request string) error {
	j.StartRequest = request
	j.Enter(model.JobRunning, s.now(), "started by agent "+agentID)
	tx.Audit(audit.Record{Actor: "agent:" + agentID, Op: "job.accepted", JobID: j.ID,
		Path: j.Path, Outcome: audit.OK})
	return putJob(tx, j, model.JobWaitingAgent)
}

// updateJob loads a job and its account in a write of their own, lets fn
// change them, and saves both. Final jobs are left alone.
func (s *Service) updateJob(id, op string, fn func(*store.Tx, *model.Job, *account) error) error {
	err := s.st.Update(func(tx *store.Tx) error {
		j := new(model.Job)
		if err := tx.Get(store.JobKey(id), j); err != nil {
			return err
		}
		if j.State.Final() {
			return nil
		}
		return s.changeJob(tx, j, op, fn)
	})
	if err != nil {
		return s.fail(audit.Record{Actor: "system", Op: op, JobID: id}, err)
	}
	return nil
}

// changeJob loads the account of job j, not final and read through tx,
// lets fn change them, and stages both with an audit record of op.
func (s *Service) changeJob(tx *store.Tx, j *model.Job, op string,
	fn func(*store.Tx, *model.Job, *account) error) error {
	old := j.State
	ev := audit.Record{Actor: "system", Op: op, JobID: j.ID, Path: j.Path, Outcome: audit.OK}
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
	tx.Audit(ev)
	if j.State.Final() {
		s.jobEnds(tx, j, a)
	}
	if err := putJob(tx, j, old); err != nil {
		return err
	}
	return a.save(tx)
}

// jobEnds registers what follows the end of job j, of account a, once tx
// commits: its agent has one job fewer, and those waiting for it wake
// with the job and the account as tx leaves them.
func (s *Service) jobEnds(tx *store.Tx, j *model.Job, a *account) {
	tx.OnCommit(func() {
		if j.AgentID != "" {
			s.agents.assign(j.AgentID, -1)
		}
		s.sent.forget(j.ID)
		s.waiters.done(j.ID, func() *jobEnd { return &jobEnd{job: j, account: accountView(a)} })
	})
}

// jobResult applies the outcome an agent reported to job j, read through
// tx.
func (s *Service) jobResult(tx *store.Tx, job *model.Job, e *wire.Event) error {
	return s.changeJob(tx, job, "job.result", func(tx *store.Tx, j *model.Job, a *account) error {
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
			s.settleCheck(j, cr, e)
			return nil
		}
		return s.settleChange(tx, j, cr, e)
	})
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
	e *wire.Event) error {
	now := s.now()
	switch {
	case e.OK:
		s.promote(cr, cr.Pending, now)
		j.Outcome = "changed on target"
		j.Enter(model.JobSucceeded, now, j.Outcome)
		return nil
	case slices.Contains(unchangedReasons, e.Reason):
		cr.Pending, cr.PendingJob = 0, ""
		cr.Status, cr.Reason = j.PrevStatus, j.PrevReason
		j.Reason, j.Outcome = e.Reason, "not changed: "+e.Message
		j.Enter(model.JobFailed, now, j.Outcome)
		return nil
	}
	return s.resolveUnknown(tx, j, cr, e.Reason, "failed: "+e.Message)
}

// resolveUnknown fails a change whose outcome is unknown, marks the
// credential Unknown and records a job that checks the current and the
// pending value to settle which one the target holds.
func (s *Service) resolveUnknown(tx *store.Tx, j *model.Job, cr *model.Credential,
	reason, outcome string) error {
	now := s.now()
	r := &model.Job{ID: model.NewID(), Kind: model.JobResolve, AccountID: j.AccountID, Path: j.Path,
		Type: j.Type, RequestedBy: "system", ChangeOnTarget: true, Created: now, Zone: j.Zone,
		Deadline: now.Add(s.opts.JobDeadline), Resolves: j.ID, PrevStatus: model.Unknown}
	r.Candidates = candidates(cr)
	r.Enter(model.JobWaitingAgent, now, "settles job "+j.ID)
	if err := s.preassign(r); err != nil {
		return err
	}
	s.handOut(tx, r)
	cr.Status, cr.Reason, cr.PendingJob = model.Unknown, reason, r.ID
	j.Reason, j.Outcome = reason, outcome+"; job "+r.ID+" checks which value the target holds"
	j.Enter(model.JobFailed, now, j.Outcome)
	return putJob(tx, r, "")
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

// promote makes version n current and the credential InSync. Versions
// never change once written, so it reads n from the store's cache.
func (s *Service) promote(cr *model.Credential, n uint64, now time.Time) {
	if n != cr.Current {
		var v model.Version
		if err := s.st.Get(store.VersionKey(cr.AccountID, cr.Type, n), &v); err == nil {
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
func (s *Service) settleCheck(j *model.Job, cr *model.Credential, e *wire.Event) {
	now := s.now()
	for _, c := range e.Checks {
		if c.OK && slices.Contains(j.Candidates, c.Version) {
			s.promote(cr, c.Version, now)
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
