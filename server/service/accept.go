package service

import (
	"errors"
	"fmt"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// HandleAccept answers an agent's request to start jobs. In one write it
// records as started each job of the request that was handed to that
// agent, still waits for it and has time left, and it answers with those:
// the agent starts them and no others. A job already started, ended or
// past its deadline is not started again, but the same request sent
// again, by an agent that missed the answer, is answered the same. A
// request that is not signed by that agent starts nothing and is audited,
// and so is an event about a job that agent was not handed.
//
// The answer goes once the write is applied and every write before it is
// durable, the records of the jobs and their pending values among them,
// without waiting for the write's own sync: a crash that loses it leaves
// the jobs waiting, and Resume marks every job still waiting with an agent
// as one that may have started.
func (s *Service) HandleAccept(agentID string, data []byte, answer func([]byte)) {
	answered := false
	reply := func(r *wire.AcceptReply) {
		answered = true
		answer(encodeReply(r))
	}
	r, err := s.signedReport(agentID, data, "accept request")
	if errors.Is(err, errRejected) {
		reply(&wire.AcceptReply{Error: "the request is not the agent's"})
		return
	}
	if err != nil {
		reply(&wire.AcceptReply{Error: "the agent could not be read"})
		return
	}
	request := r.RequestID()
	var started []string
	var drop []rejected
	err = s.st.Update(func(tx *store.Tx) error {
		started, drop = started[:0], drop[:0]
		now := s.now()
		for _, e := range r.Events {
			if e.Kind != wire.EventAccepted {
				drop = append(drop, rejected{e.JobID, "not an accepted event"})
				continue
			}
			j, err := handedJob(tx, agentID, e.JobID)
			if err != nil {
				return err
			}
			if j == nil {
				drop = append(drop, rejected{e.JobID, "accept of a job the agent was not handed"})
				continue
			}
			switch {
			case j.State == model.JobRunning && j.StartRequest == request:
				// The agent asks again, not knowing it was answered.
			case j.State != model.JobWaitingAgent || !now.Before(j.Deadline):
				continue
			default:
				if err := s.jobAccepted(tx, j, agentID, request); err != nil {
					return err
				}
			}
			started = append(started, j.ID)
		}
		tx.AfterPrior(func(err error) {
			if err != nil {
				reply(&wire.AcceptReply{Error: "the jobs could not be recorded"})
				return
			}
			reply(&wire.AcceptReply{Started: started})
		})
		return nil
	})
	if err != nil {
		s.log.Warn("recording started jobs failed", "agent", agentID, "jobs", len(r.Events),
			"error", err)
		if !answered {
			reply(&wire.AcceptReply{Error: "the jobs could not be recorded"})
		}
		return
	}
	for _, d := range drop {
		s.rejectEvent(agentID, d.jobID, d.why)
	}
}

// Resume records, before any agent is heard, that every job handed to an
// agent and still waiting may have started: its start may have been
// answered in a write that the server's end lost (see HandleAccept). Such
// a job still runs when its agent asks to start it, and a result from its
// agent is applied as ever; but when its deadline passes with neither,
// its outcome is unknown and a check settles it, where a job surely not
// started would just fail.
func (s *Service) Resume() error {
	ids := s.jobIDs(model.JobWaitingAgent)
	for len(ids) > 0 {
		n := min(len(ids), resumeBatch)
		batch := ids[:n]
		ids = ids[n:]
		marked := 0
		err := s.st.Update(func(tx *store.Tx) error {
			marked = 0
			now := s.now()
			for _, id := range batch {
				j := new(model.Job)
				if err := tx.Get(store.JobKey(id), j); err != nil {
					return err
				}
				if j.State != model.JobWaitingAgent || j.AgentID == "" || j.MaybeStarted {
					continue
				}
				j.MaybeStarted = true
				j.Steps = append(j.Steps, model.JobStep{State: j.State, At: now,
					Note: "the server restarted; agent " + j.AgentID + " may have started the job"})
				if err := putJob(tx, j, j.State); err != nil {
					return err
				}
				marked++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("marking waiting jobs at start: %w", err)
		}
		if marked > 0 {
			s.log.Info("jobs handed out before the restart may have started", "jobs", marked)
		}
	}
	return nil
}

// resumeBatch is how many jobs one write of Resume marks.
const resumeBatch = 1000
