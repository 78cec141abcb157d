package service

import (
	"slices"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// chainOf returns the chain from the root to the node with id.
func chainOf(g getter, id string) (chain, error) {
	var ch chain
	for id != "" {
		n, err := getNode(g, id)
		if err != nil {
			return nil, err
		}
		ch = append(chain{n}, ch...)
		id = n.ParentID
	}
	return ch, nil
}

// accountChain returns the chain of an account read through tx, with its
// ancestors read from the store's cache: the code that runs jobs changes
// the account, never the folders and target above it, so only the
// account's record needs the transaction's conflict check.
func accountChain(tx *store.Tx, st *store.Store, accountID string) (chain, error) {
	acct, err := getNode(tx, accountID)
	if err != nil {
		return nil, err
	}
	up, err := chainOf(st, acct.ParentID)
	if err != nil {
		return nil, err
	}
	return append(up, acct), nil
}

// maxJobList is the most jobs one list returns.
const maxJobList = 1000

// ListJobs lists the newest jobs, in a state if given, on accounts the
// caller may read.
func (s *Service) ListJobs(c *Caller, state model.JobState) (*api.JobList, error) {
	out := &api.JobList{Jobs: []*model.Job{}}
	err := s.read(event(c, "job.list", ""), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		valid := []model.JobState{model.JobWaitingAgent, model.JobRunning, model.JobSucceeded, model.JobFailed}
		if state != "" && !slices.Contains(valid, state) {
			return api.Errorf(api.CodeInvalidArgument,
				"unknown job state %q (want waiting_agent, running, succeeded or failed)", state)
		}
		var ids []string
		collect := func(prefix []byte) error {
			return s.st.Scan(prefix, func(k, _ []byte) error {
				ids = append(ids, string(k[len(prefix):]))
				return nil
			})
		}
		var err error
		if state != "" {
			err = collect(store.JobStatePrefix(state))
		} else {
			err = collect(store.JobPrefix())
		}
		if err != nil {
			return err
		}
		slices.Reverse(ids)
		for _, id := range ids {
			if len(out.Jobs) == maxJobList {
				break
			}
			j, err := s.visibleJob(c, id)
			if err != nil {
				return err
			}
			if j != nil {
				out.Jobs = append(out.Jobs, j)
			}
		}
		return nil
	})
	return out, err
}

// visibleJob returns the job with id if the caller may read its account,
// and nil otherwise.
func (s *Service) visibleJob(c *Caller, id string) (*model.Job, error) {
	j := new(model.Job)
	if err := s.st.Get(store.JobKey(id), j); err != nil {
		if errNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	ch, err := chainOf(s.st, j.AccountID)
	if errNotFound(err) {
		ch, err = rootChain(s.st)
	}
	if err != nil {
		return nil, err
	}
	ok, err := allowed(s.st, c, ch, auth.OpRead)
	if err != nil || !ok {
		return nil, err
	}
	return j, nil
}

// ShowJob returns one job.
func (s *Service) ShowJob(c *Caller, id string) (*model.Job, error) {
	var out *model.Job
	err := s.read(event(c, "job.show", ""), func(ev *audit.Record) error {
		ev.JobID = id
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := checkName("job id", id); err != nil {
			return err
		}
		j, err := s.visibleJob(c, id)
		if err != nil {
			return err
		}
		if j == nil {
			return api.Errorf(api.CodeNotFound, "no job %q", id)
		}
		out = j
		return nil
	})
	return out, err
}
