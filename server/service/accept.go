package service

import (
	"errors"

	json "github.com/go-json-experiment/json/v1"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// HandleAccept answers an agent's request to start jobs. In one synced
// write it records as started each job of the request that was handed to
// that agent, still waits for it and has time left, and it answers with
// those: the agent starts them and no others. A job already started,
// ended or past its deadline is not started again, but the same request
// sent again, by an agent that missed the answer, is answered the same.
// A request that is not signed by that agent starts nothing and is
// audited, and so is an event about a job that agent was not handed.
func (s *Service) HandleAccept(agentID string, data []byte) []byte {
	b, err := json.Marshal(s.accept(agentID, data))
	if err != nil {
		return []byte(`{"error":"the reply could not be encoded"}`)
	}
	return b
}

func (s *Service) accept(agentID string, data []byte) *wire.AcceptReply {
	r, err := s.signedReport(agentID, data, "accept request")
	if errors.Is(err, errRejected) {
		return &wire.AcceptReply{Error: "the request is not the agent's"}
	}
	if err != nil {
		return &wire.AcceptReply{Error: "the agent could not be read"}
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
		return nil
	})
	if err != nil {
		s.log.Warn("recording started jobs failed", "agent", agentID, "jobs", len(r.Events),
			"error", err)
		return &wire.AcceptReply{Error: "the jobs could not be recorded"}
	}
	for _, d := range drop {
		s.rejectEvent(agentID, d.jobID, d.why)
	}
	return &wire.AcceptReply{Started: started}
}
