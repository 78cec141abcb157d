package service

import (
	"fmt"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// maxCheckPaths bounds the paths one check request names.
const maxCheckPaths = 1000

// Check runs Check Credentials on accounts named by path, on every account
// of a target, or on every account: one job per credential, which logs in
// through an agent with the current value (and a pending one, if a change
// left it unsettled). It needs check on each account; accounts the caller
// may not check are left out of a target or --all, and refused by path.
func (s *Service) Check(c *Caller, req *api.CheckRequest) (*api.CheckResponse, error) {
	out := &api.CheckResponse{Jobs: []api.JobRef{}}
	var jobs []string
	err := s.write(event(c, "account.check", req.Target), func(tx *store.Tx, ev *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		chains, err := s.checkTargets(tx, c, req)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			ids, err := s.addChecks(tx, c, ch, out)
			if err != nil {
				return err
			}
			jobs = append(jobs, ids...)
		}
		ev.Detail = fmt.Sprintf("%d check jobs", len(jobs))
		return nil
	})
	return out, err
}

// checkTargets returns the chains of the accounts a check request names.
func (s *Service) checkTargets(tx *store.Tx, c *Caller, req *api.CheckRequest) ([]chain, error) {
	given := 0
	for _, b := range []bool{len(req.Paths) > 0, req.Target != "", req.All} {
		if b {
			given++
		}
	}
	if given != 1 {
		return nil, api.Errorf(api.CodeInvalidArgument, "name accounts by path, a target, or ask for all")
	}
	if len(req.Paths) > maxCheckPaths {
		return nil, api.Errorf(api.CodeInvalidArgument, "at most %d paths in one check", maxCheckPaths)
	}
	var out []chain
	for _, p := range req.Paths {
		ch, err := s.lookup(tx, c, model.KindAccount, p, auth.OpCheck)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	if len(req.Paths) > 0 {
		return out, nil
	}
	kind, path := model.KindFolder, ""
	if req.Target != "" {
		kind, path = model.KindTarget, req.Target
	}
	err := s.eachTarget(c, kind, path, func(ch chain) error {
		kids, err := children(s.st, ch.leaf().ID)
		for _, k := range kids {
			next := append(ch[:len(ch):len(ch)], k)
			if ok, err := allowed(s.st, c, next, auth.OpCheck); err == nil && ok {
				out = append(out, next)
			}
		}
		return err
	})
	return out, err
}

// addChecks stages a check job for each credential of an account that has
// a value and no change in flight.
func (s *Service) addChecks(tx *store.Tx, c *Caller, ch chain, out *api.CheckResponse) ([]string, error) {
	a, err := loadAccount(tx, ch)
	if err != nil {
		return nil, err
	}
	var ids []string
	now := s.now()
	for _, cr := range a.list() {
		if cr.Current == 0 || s.changeInFlight(tx, cr) {
			continue
		}
		j := &model.Job{ID: model.NewID(), Kind: model.JobCheck, AccountID: a.node.ID, Path: ch.path(),
			Type: cr.Type, RequestedBy: c.User, ChangeOnTarget: true, Created: now,
			Zone: ch[len(ch)-2].Zone, Deadline: now.Add(s.opts.JobDeadline),
			Candidates: candidates(cr), PrevStatus: cr.Status, PrevReason: cr.Reason}
		j.Enter(model.JobWaitingAgent, now, "waiting for an agent of zone "+j.Zone)
		if err := s.preassign(j); err != nil {
			return nil, err
		}
		s.handOut(tx, j)
		if err := putJob(tx, j, ""); err != nil {
			return nil, err
		}
		ids = append(ids, j.ID)
		out.Jobs = append(out.Jobs, api.JobRef{ID: j.ID, Path: j.Path, Type: string(j.Type)})
	}
	return ids, nil
}

// changeInFlight reports whether a job that may change the credential has
// not ended yet.
func (s *Service) changeInFlight(g getter, cr *model.Credential) bool {
	if cr.PendingJob == "" {
		return false
	}
	var j model.Job
	if err := g.Get(store.JobKey(cr.PendingJob), &j); err != nil {
		return false
	}
	return !j.State.Final()
}
