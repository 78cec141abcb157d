package service

import (
	"context"
	"fmt"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// Reasons a credential's status gives after a change in the database.
const (
	reasonDatabaseOnly = "database_only"
	reasonUpdated      = "updated_in_database"
	reasonWaitingAgent = "waiting_agent"
)

// Bounds of an exclusive checkout.
const (
	minCheckout = time.Minute
	maxCheckout = 30 * 24 * time.Hour
)

// change describes one new value for a credential, whichever job brings it.
type change struct {
	kind         model.JobKind
	op           auth.Op
	path         string
	typ          model.CredentialType
	databaseOnly bool
	force        bool
	reconcile    bool
	source       string
	// wait is how long the request may wait for the job to end.
	wait time.Duration
	// jobID is the id of the job to record, or empty for a new one.
	jobID string
	// value produces the new value once the account is loaded.
	value func(tx *store.Tx, a *account, cr *model.Credential) (secret.Value, error)
}

// Reset runs Reset Credentials: a typed or generated value, changed on the
// target through an agent, or in the database only. With
// req.WaitSeconds, a change on the target answers once its job has ended,
// or when the wait has passed or ctx is done, whichever comes first.
func (s *Service) Reset(ctx context.Context, c *Caller, req *api.ResetRequest) (*api.JobResponse, error) {
	source := "typed"
	if req.Generate {
		source = "generated"
	}
	ch := change{
		kind: model.JobReset, op: auth.OpReset, path: req.Path, typ: req.Type,
		databaseOnly: req.DatabaseOnly, force: req.Force, reconcile: req.Reconcile, source: source,
		wait: time.Duration(req.WaitSeconds) * time.Second,
		value: func(tx *store.Tx, a *account, _ *model.Credential) (secret.Value, error) {
			return s.valueOf(a.node, req.Type, req.Value.Value, req.Generate)
		},
	}
	var wt *waiter
	if ch.wait > 0 {
		// The waiter is in place before the job exists, so that no end of
		// the job can pass unseen.
		ch.jobID = model.NewID()
		wt = s.waiters.wait(ch.jobID)
		defer s.waiters.drop(ch.jobID, wt)
	}
	out, err := s.change(c, ch)
	if err == nil && wt != nil && !out.Job.State.Final() {
		s.awaitChange(ctx, out, wt, ch.wait)
	}
	return out, err
}

// awaitChange holds the answer to a change until its job has ended, wait
// has passed or ctx is done, and then puts the job and the account as
// they are in out. The request was audited as it started the job; waiting
// for it adds nothing to the audit trail.
func (s *Service) awaitChange(ctx context.Context, out *api.JobResponse, wt *waiter,
	wait time.Duration) {
	if awaitDone(ctx, wt.ch, wait) {
		out.Job, out.Account = wt.end.job, wt.end.account
		return
	}
	if ctx.Err() != nil {
		return
	}
	id := out.Job.ID
	j := new(model.Job)
	if err := s.st.Get(store.JobKey(id), j); err != nil {
		s.logErr("reading the job a request waited for", id, err)
		return
	}
	ch, err := chainOf(s.st, j.AccountID)
	var a *account
	if err == nil {
		a, err = loadAccount(s.st, ch)
	}
	if err != nil {
		s.logErr("reading the account of a job a request waited for", id, err)
		return
	}
	out.Job, out.Account = j, accountView(a)
}

// Update runs Update Credentials: it records in the database a value that
// was changed by hand on the target.
func (s *Service) Update(c *Caller, req *api.UpdateRequest) (*api.JobResponse, error) {
	return s.change(c, change{
		kind: model.JobUpdate, op: auth.OpUpdateCredentials, path: req.Path, typ: req.Type,
		databaseOnly: true, force: req.Force, source: "update",
		value: func(tx *store.Tx, a *account, _ *model.Credential) (secret.Value, error) {
			return s.valueOf(a.node, req.Type, req.Value.Value, false)
		},
	})
}

// Restore brings an older revision back as a new version, on the target or
// in the database only.
func (s *Service) Restore(c *Caller, req *api.RestoreRequest) (*api.JobResponse, error) {
	return s.change(c, change{
		kind: model.JobRestore, op: auth.OpRestore, path: req.Path, typ: req.Type,
		databaseOnly: req.DatabaseOnly, force: req.Force,
		source: fmt.Sprintf("restore of %d", req.Revision),
		value: func(tx *store.Tx, a *account, cr *model.Credential) (secret.Value, error) {
			if req.Revision == cr.Current {
				return secret.Value{}, api.Errorf(api.CodeInvalidArgument,
					"revision %d is already the current %s", req.Revision, req.Type)
			}
			return s.unsealVersion(tx, a.node.ID, req.Type, req.Revision)
		},
	})
}

// unsealVersion returns the value of version n of a credential.
func (s *Service) unsealVersion(g getter, accountID string, t model.CredentialType, n uint64) (secret.Value, error) {
	var v model.Version
	if err := g.Get(store.VersionKey(accountID, t, n), &v); err != nil {
		if errNotFound(err) {
			return secret.Value{}, api.Errorf(api.CodeNoRevision, "no revision %d of the %s", n, t)
		}
		return secret.Value{}, err
	}
	val, err := s.vault.Unseal(vault.CredentialAD(accountID, t, n), v.Sealed)
	if err != nil {
		return secret.Value{}, vaultError(err)
	}
	return val, nil
}

// change runs a job that gives a credential a new value. The new version,
// the job and the audit record are written in one synced batch before the
// answer, and before any agent could be asked to act.
func (s *Service) change(c *Caller, ch change) (*api.JobResponse, error) {
	out := &api.JobResponse{}
	err := s.write(event(c, "account."+string(ch.kind), ch.path), func(tx *store.Tx, ev *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if ch.wait < 0 || ch.wait > maxJobWait {
			return api.Errorf(api.CodeInvalidArgument, "wait_seconds is from 1 to %d, or 0 not to wait",
				int(maxJobWait/time.Second))
		}
		if ch.force && !ch.databaseOnly {
			return api.Errorf(api.CodeInvalidArgument,
				"force applies only to a change in the database only")
		}
		chain, err := s.lookupLeaf(tx, c, model.KindAccount, ch.path, ch.op)
		if err != nil {
			return err
		}
		a, err := loadAccount(tx, chain)
		if err != nil {
			return err
		}
		cr, err := a.credential(ch.typ)
		if err != nil {
			return err
		}
		if err := s.changeAllowed(c, a, cr, ch); err != nil {
			return err
		}
		value, err := ch.value(tx, a, cr)
		if err != nil {
			return err
		}
		defer value.Wipe()
		job, err := s.apply(tx, c, a, cr, ch, value, out)
		if err != nil {
			return err
		}
		ev.JobID, ev.Detail = job.ID, job.Outcome
		if !job.State.Final() {
			ev.Detail = "change on target, waiting for an agent of zone " + a.ch[len(a.ch)-2].Zone
		}
		out.Job = job
		out.Account = accountView(a)
		return a.save(tx)
	})
	return out, err
}

// changeAllowed refuses a change while another is in flight, while someone
// else holds an exclusive checkout, and a database-only change of an InSync
// account without force.
func (s *Service) changeAllowed(c *Caller, a *account, cr *model.Credential, ch change) error {
	if cr.Pending != 0 {
		if s.changeInFlight(s.st, cr) {
			return api.Errorf(api.CodeChanging,
				"a change of this %s is in flight (job %s); wait for it to end", cr.Type, cr.PendingJob)
		}
		return api.Errorf(api.CodeChanging, "an earlier change of this %s was never confirmed; "+
			"run passman account check %s to settle which value the target holds", cr.Type, a.ch.path())
	}
	if co := cr.Checkout; co.Active(s.now()) && co.User != c.User {
		return api.Errorf(api.CodeCheckedOut, "the %s is checked out by %s until %s",
			cr.Type, co.User, co.Until.Format(time.RFC3339))
	}
	if ch.databaseOnly && a.status() == model.InSync && !ch.force {
		return api.Errorf(api.CodeNeedsForce,
			"account %q is InSync: changing its %s in the database only makes PassMan "+
				"lose InSync until a check proves the new value; confirm with --force",
			a.ch.path(), cr.Type)
	}
	return nil
}

// apply stores the new value and the job that carries it: as the current
// version for a database-only change, or as the pending version of a job
// that waits for an agent.
func (s *Service) apply(tx *store.Tx, c *Caller, a *account, cr *model.Credential, ch change,
	value secret.Value, out *api.JobResponse) (*model.Job, error) {
	now := s.now()
	id := ch.jobID
	if id == "" {
		id = model.NewID()
	}
	job := &model.Job{ID: id, Kind: ch.kind, AccountID: a.node.ID, Path: a.ch.path(),
		Type: cr.Type, RequestedBy: c.User, ChangeOnTarget: !ch.databaseOnly, Created: now}
	n, violations, err := s.newVersion(tx, a, cr, value,
		model.Version{CreatedBy: c.User, Source: ch.source, JobID: job.ID})
	if err != nil {
		return nil, err
	}
	out.Warnings = warnings(cr.Type, violations)
	job.Version = n

	if ch.databaseOnly {
		forced := a.status() == model.InSync
		makeCurrent(cr, n, violations)
		cr.Status, cr.Reason, cr.ChangedAt = model.Unknown, reasonDatabaseOnly, now
		if ch.kind == model.JobUpdate {
			cr.Reason = reasonUpdated
		}
		job.Forced = forced
		job.Outcome = "database only"
		if forced {
			job.Outcome = "database only, forced"
		}
		job.Enter(model.JobSucceeded, now, job.Outcome)
	} else {
		target := a.ch[len(a.ch)-2]
		job.Zone, job.PrevStatus, job.PrevReason = target.Zone, cr.Status, cr.Reason
		job.Reconcile = ch.reconcile || cr.Current == 0
		if job.Reconcile && target.ReconcileAccount == "" {
			return nil, api.Errorf(api.CodeInvalidArgument, "the %s of %q has no current value and "+
				"target %q has no reconcile account to set one with", cr.Type, a.ch.path(), target.Name)
		}
		cr.Pending, cr.PendingJob = n, job.ID
		cr.Status, cr.Reason = model.Changing, reasonWaitingAgent
		job.Deadline = now.Add(s.opts.JobDeadline)
		job.Enter(model.JobWaitingAgent, now, "waiting for an agent of zone "+target.Zone)
		if err := s.preassign(job); err != nil {
			return nil, err
		}
		s.handOut(tx, job)
	}
	a.node.LastAction = &model.Action{Op: string(ch.kind), By: c.User, At: now, Note: job.Outcome}
	return job, putJob(tx, job, "")
}

// putJob stages a job and moves it in the state index.
func putJob(tx *store.Tx, j *model.Job, oldState model.JobState) error {
	if oldState != "" && oldState != j.State {
		if err := tx.Delete(store.JobStateKey(oldState, j.ID)); err != nil {
			return err
		}
	}
	if err := tx.PutRaw(store.JobStateKey(j.State, j.ID), nil); err != nil {
		return err
	}
	return tx.Put(store.JobKey(j.ID), j)
}

// Checkout hands the current value of a credential to a caller with the
// checkout permission. A positive ForSeconds makes it exclusive for that
// long: nobody else can check it out or change it meanwhile.
func (s *Service) Checkout(c *Caller, req *api.CheckoutRequest) (*api.CheckoutResponse, error) {
	ev := event(c, "account.checkout", req.Path)
	out := &api.CheckoutResponse{Path: req.Path, Type: req.Type}
	body := func(g getter, ev *audit.Record) (*account, error) {
		a, cr, err := s.checkoutTarget(g, c, req)
		if err != nil {
			return nil, err
		}
		val, err := s.unsealVersion(g, a.node.ID, cr.Type, cr.Current)
		if err != nil {
			return nil, err
		}
		out.Version, out.Value = cr.Current, string(val.Reveal())
		ev.Detail = fmt.Sprintf("%s version %d", cr.Type, cr.Current)
		if req.ForSeconds > 0 {
			now := s.now()
			if tx, ok := g.(*store.Tx); ok && cr.Checkout != nil {
				if err := tx.Delete(store.CheckoutKey(cr.Checkout.Until, a.node.ID, cr.Type)); err != nil {
					return nil, err
				}
			}
			cr.Checkout = &model.Checkout{User: c.User, Since: now, Exclusive: true,
				Until: now.Add(time.Duration(req.ForSeconds) * time.Second), Reason: req.Reason}
			if tx, ok := g.(*store.Tx); ok {
				if err := tx.PutRaw(store.CheckoutKey(cr.Checkout.Until, a.node.ID, cr.Type), nil); err != nil {
					return nil, err
				}
			}
			out.Checkout = cr.Checkout
			ev.Detail += ", exclusive until " + cr.Checkout.Until.Format(time.RFC3339)
			a.node.LastAction = &model.Action{Op: "checkout", By: c.User, At: now}
		}
		return a, nil
	}
	var err error
	if req.ForSeconds == 0 {
		err = s.read(ev, func(ev *audit.Record) error { _, err := body(s.st, ev); return err })
	} else {
		err = s.write(ev, func(tx *store.Tx, ev *audit.Record) error {
			a, err := body(tx, ev)
			if err != nil {
				return err
			}
			return a.save(tx)
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkoutTarget validates a checkout request and returns the credential.
func (s *Service) checkoutTarget(g getter, c *Caller, req *api.CheckoutRequest) (*account, *model.Credential, error) {
	if err := s.needOpen(); err != nil {
		return nil, nil, err
	}
	d := time.Duration(req.ForSeconds) * time.Second
	if req.ForSeconds < 0 || req.ForSeconds > 0 && (d < minCheckout || d > maxCheckout) {
		return nil, nil, api.Errorf(api.CodeInvalidArgument,
			"an exclusive checkout lasts from %v to %v", minCheckout, maxCheckout)
	}
	if len(req.Reason) > 512 {
		return nil, nil, api.Errorf(api.CodeInvalidArgument, "reason is longer than 512 bytes")
	}
	ch, err := s.lookup(g, c, model.KindAccount, req.Path, auth.OpCheckOut)
	if err != nil {
		return nil, nil, err
	}
	a, err := loadAccount(g, ch)
	if err != nil {
		return nil, nil, err
	}
	cr, err := a.credential(req.Type)
	if err != nil {
		return nil, nil, err
	}
	if cr.Current == 0 {
		return nil, nil, api.Errorf(api.CodeNoCredential, "the %s of %q has no value yet",
			cr.Type, req.Path)
	}
	if co := cr.Checkout; co.Active(s.now()) && co.User != c.User {
		return nil, nil, api.Errorf(api.CodeCheckedOut, "the %s is checked out by %s until %s",
			cr.Type, co.User, co.Until.Format(time.RFC3339))
	}
	return a, cr, nil
}

// Checkin ends exclusive checkouts of an account: the holder's own, or
// anyone's for a caller with the checkin permission.
func (s *Service) Checkin(c *Caller, req *api.CheckinRequest) (*api.Account, error) {
	var out api.Account
	err := s.write(event(c, "account.checkin", req.Path), func(tx *store.Tx, ev *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookup(tx, c, model.KindAccount, req.Path, auth.OpRead)
		if err != nil {
			return err
		}
		a, err := loadAccount(tx, ch)
		if err != nil {
			return err
		}
		ended, err := s.endCheckouts(tx, c, a, req.Type)
		if err != nil {
			return err
		}
		ev.Detail = fmt.Sprintf("checked in %v", ended)
		a.node.LastAction = &model.Action{Op: "checkin", By: c.User, At: s.now()}
		for _, t := range ended {
			id, err := s.autoReset(tx, c.User, a, a.creds[t])
			if err != nil {
				return err
			}
			if id != "" {
				ev.Detail += ", autoreset job " + id
			}
		}
		out = accountView(a)
		return a.save(tx)
	})
	return &out, err
}

func (s *Service) endCheckouts(tx *store.Tx, c *Caller, a *account,
	t model.CredentialType) ([]model.CredentialType, error) {
	creds := a.list()
	if t != "" {
		cr, err := a.credential(t)
		if err != nil {
			return nil, err
		}
		creds = []*model.Credential{cr}
	}
	var ended []model.CredentialType
	for _, cr := range creds {
		if !cr.Checkout.Active(s.now()) {
			continue
		}
		if cr.Checkout.User != c.User {
			if err := s.authorize(tx, c, a.ch, auth.OpCheckIn); err != nil {
				return nil, err
			}
		}
		if err := tx.Delete(store.CheckoutKey(cr.Checkout.Until, a.node.ID, cr.Type)); err != nil {
			return nil, err
		}
		cr.Checkout = nil
		ended = append(ended, cr.Type)
	}
	if len(ended) == 0 {
		return nil, api.Errorf(api.CodeNotCheckedOut, "%q has no active exclusive checkout",
			a.ch.path())
	}
	return ended, nil
}

// Revisions lists the versions of a credential, newest first, without
// their values.
func (s *Service) Revisions(c *Caller, path string, t model.CredentialType) (*api.RevisionList, error) {
	out := &api.RevisionList{Revisions: []api.Revision{}}
	err := s.read(event(c, "account.revisions", path), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookup(s.st, c, model.KindAccount, path, auth.OpReadRevisions)
		if err != nil {
			return err
		}
		a, err := loadAccount(s.st, ch)
		if err != nil {
			return err
		}
		cr, err := a.credential(t)
		if err != nil {
			return err
		}
		return store.ScanJSON(s.st, store.VersionPrefix(a.node.ID, t), func(v *model.Version) error {
			out.Revisions = append([]api.Revision{{N: v.N, Created: v.Created,
				CreatedBy: v.CreatedBy, Source: v.Source, Compliance: v.Compliant,
				Current: v.N == cr.Current, Pending: v.N == cr.Pending}}, out.Revisions...)
			return nil
		})
	})
	return out, err
}
