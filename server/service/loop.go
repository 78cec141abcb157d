package service

import (
	"context"
	"time"

	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// SetBus connects the service to NATS. Until it is called, changes on
// targets are recorded and wait.
func (s *Service) SetBus(b Bus) { s.bus = b }

// Run runs the job loop until ctx is done: it hands waiting jobs to
// agents, publishes jobs that were handed out before a restart, and
// decides the outcome of every job whose deadline has passed.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kickCh:
		}
	}
}

// tick looks once at every unfinished job.
func (s *Service) tick(ctx context.Context) {
	drained := -1 // unknown until asked
	for _, state := range []model.JobState{model.JobWaitingAgent, model.JobRunning} {
		for _, id := range s.jobIDs(state) {
			job, err := s.getJob(id)
			if err != nil || job.State.Final() {
				continue
			}
			if s.now().Before(job.Deadline.Add(s.opts.Grace)) {
				if job.State == model.JobWaitingAgent {
					s.logErr("dispatching job", job.ID, s.dispatch(job.ID))
				}
				continue
			}
			if drained == -1 {
				drained = s.eventsDrained(ctx)
			}
			if drained == 1 {
				s.logErr("expiring job", job.ID, s.expire(job))
			}
		}
	}
	s.expireCheckouts()
}

// eventsDrained reports (1) whether every agent event has been handled, so
// that a job past its deadline is judged on everything its agent said.
func (s *Service) eventsDrained(ctx context.Context) int {
	if s.bus == nil {
		return 1
	}
	n, err := s.bus.EventsPending(ctx)
	if err != nil || n > 0 {
		return 0
	}
	return 1
}

func (s *Service) jobIDs(state model.JobState) []string {
	var ids []string
	prefix := store.JobStatePrefix(state)
	_ = s.st.Scan(prefix, func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix):]))
		return nil
	})
	return ids
}

func (s *Service) logErr(doing, jobID string, err error) {
	if err != nil {
		s.log.Warn(doing+" failed", "job_id", jobID, "error", err)
	}
}

// expire decides a job that passed its deadline without a result. A job no
// agent started did not touch the target; one that started, or may have,
// may have touched it, and its outcome is unknown until a check settles
// it.
func (s *Service) expire(job *model.Job) error {
	return s.updateJob(job.ID, "job.expire", func(tx *store.Tx, j *model.Job, a *account) error {
		cr, ok := a.creds[j.Type]
		if !ok {
			j.Reason, j.Outcome = "failed", "the account no longer has this credential"
			j.Enter(model.JobFailed, s.now(), j.Outcome)
			return nil
		}
		if j.State == model.JobWaitingAgent && !j.MaybeStarted {
			s.notStarted(j, cr)
			return nil
		}
		return s.noAnswer(tx, j, cr)
	})
}

// notStarted fails a job no agent took before its deadline.
func (s *Service) notStarted(j *model.Job, cr *model.Credential) {
	now := s.now()
	j.Reason = "no_agent"
	j.Outcome = "no agent of zone " + j.Zone + " took the job before its deadline"
	switch {
	case len(j.Candidates) == 0:
		cr.Pending, cr.PendingJob = 0, ""
		cr.Status, cr.Reason = j.PrevStatus, j.PrevReason
	case j.Kind == model.JobResolve:
		cr.Status, cr.Reason = model.Unknown, "no_agent"
	default:
		cr.Status, cr.Reason, cr.CheckedAt = model.NotInSync, "no_agent", now
	}
	j.Enter(model.JobFailed, now, j.Outcome)
}

// noAnswer handles a job an agent started but did not finish in time.
func (s *Service) noAnswer(tx *store.Tx, j *model.Job, cr *model.Credential) error {
	now := s.now()
	switch {
	case len(j.Candidates) == 0:
		return s.resolveUnknown(tx, j, cr, "timeout", "no result before the deadline")
	case j.Kind == model.JobResolve:
		cr.Status, cr.Reason = model.Unknown, "timeout"
	default:
		cr.Status, cr.Reason, cr.CheckedAt = model.NotInSync, "timeout", now
	}
	j.Reason, j.Outcome = "timeout", "no result before the deadline"
	j.Enter(model.JobFailed, now, j.Outcome)
	return nil
}
