package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

func sec(s string) api.Secret { return api.NewSecret(secret.FromString(s)) }

// wantCode fails unless err is an *api.Error with code.
func wantCode(t *testing.T, err error, code api.Code) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %s (%s), want %s", e.Code, e.Message, code)
	}
	if e.Message == "" {
		t.Errorf("error %s has no message", code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// demo creates folder f, target f/web and account f/web/root with a
// password.
func demo(t *testing.T, c *client.Client, password string) {
	t.Helper()
	must[*api.Folder](t)(c.CreateFolder("f"))
	must[*api.Target](t)(c.CreateTarget(&api.TargetCreateRequest{Path: "f/web", Type: "ssh",
		Address: "10.0.0.1:22", Zone: "dc1"}))
	must[*api.JobResponse](t)(c.CreateAccount(&api.AccountCreateRequest{Path: "f/web/root",
		Credentials: []api.CredentialSpec{{Type: model.Password, Value: sec(password)}}}))
}

func TestResetDatabaseOnly(t *testing.T) {
	s := testserver.Start(t)
	c := s.Admin
	const first, typed = "Initial-Passw0rd!xyzxyzxyz", "Typed-Passw0rd!abcdefghijk"
	demo(t, c, first)

	r := must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Value: sec(typed), DatabaseOnly: true}))
	if r.Job.State != model.JobSucceeded || r.Job.Outcome != "database only" {
		t.Errorf("job = %s %q, want succeeded, database only", r.Job.State, r.Job.Outcome)
	}
	cr := r.Account.Credentials[0]
	if cr.Status != model.Unknown || cr.Reason != "database_only" || cr.Version != 2 {
		t.Errorf("credential = %+v, want Unknown database_only version 2", cr)
	}
	co := must[*api.CheckoutResponse](t)(c.Checkout(&api.CheckoutRequest{Path: "f/web/root",
		Type: model.Password}))
	if co.Value != typed {
		t.Errorf("checkout returned another value than the one reset")
	}

	gen := must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Generate: true, DatabaseOnly: true}))
	if gen.Account.Credentials[0].Compliance != model.Compliant || len(gen.Warnings) > 0 {
		t.Errorf("generated value not compliant: %+v %v", gen.Account.Credentials[0], gen.Warnings)
	}
	co2 := must[*api.CheckoutResponse](t)(c.Checkout(&api.CheckoutRequest{Path: "f/web/root",
		Type: model.Password}))
	if co2.Value == typed || len(co2.Value) != 24 {
		t.Errorf("generated value has length %d, want the policy's 24", len(co2.Value))
	}
	s.CheckLogs(t, first, typed, co2.Value, string(s.Bootstrap.VaultKey.Reveal()),
		string(s.Bootstrap.AdminToken.Reveal()))
}

func TestNoncompliantValueIsStoredWithWarning(t *testing.T) {
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	r := must[*api.JobResponse](t)(s.Admin.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Value: sec("qZx7"), DatabaseOnly: true}))
	if r.Account.Credentials[0].Compliance != model.Noncompliant || len(r.Warnings) == 0 {
		t.Fatalf("got %+v, warnings %v; want Noncompliant with a warning", r.Account.Credentials[0], r.Warnings)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, "qZx7") {
			t.Errorf("warning %q contains the value", w)
		}
	}
}

func TestResetOnTargetWaitsForAgent(t *testing.T) {
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	r := must[*api.JobResponse](t)(s.Admin.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Generate: true}))
	if r.Job.State != model.JobWaitingAgent || r.Job.Deadline.IsZero() {
		t.Errorf("job = %+v, want waiting_agent with a deadline", r.Job)
	}
	cr := r.Account.Credentials[0]
	if cr.Status != model.Changing || cr.Pending != 2 || cr.Version != 1 || cr.PendingJob != r.Job.ID {
		t.Errorf("credential = %+v, want Changing with pending 2 of job %s, current 1", cr, r.Job.ID)
	}

	// The pending version is on disk before the answer: it survives a
	// restart, and a second change is refused while it is in flight.
	s.Restart(t)
	must[*api.VaultOpenResponse](t)(s.Admin.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(s.Bootstrap.VaultKey)}))
	revs := must[*api.RevisionList](t)(s.Admin.Revisions("f/web/root", model.Password))
	if len(revs.Revisions) != 2 || !revs.Revisions[0].Pending || !revs.Revisions[1].Current {
		t.Errorf("revisions after restart = %+v, want pending 2 and current 1", revs.Revisions)
	}
	_, err := s.Admin.Reset(&api.ResetRequest{Path: "f/web/root", Type: model.Password,
		Generate: true, DatabaseOnly: true})
	wantCode(t, err, api.CodeChanging)
	jobs := must[*api.JobList](t)(s.Admin.ListJobs(model.JobWaitingAgent))
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].ID != r.Job.ID {
		t.Errorf("waiting jobs = %+v, want the reset", jobs.Jobs)
	}
}

// markInSync records a successful check of every credential of an account,
// as a check through an agent would.
func markInSync(t *testing.T, s *testserver.Server, path string) {
	t.Helper()
	st := s.Service().Store()
	if a := must[*api.Account](t)(s.Admin.ShowAccount(path)); a.Status != model.Unknown {
		t.Fatalf("status of %s = %s, want Unknown", path, a.Status)
	}
	// The test servers hold one account, so every credential record is
	// one of its.
	err := st.Update(func(tx *store.Tx) error {
		var id string
		err := tx.Scan([]byte("r/"), func(k, v []byte) error {
			var cr model.Credential
			if err := jsonUnmarshal(v, &cr); err != nil {
				return err
			}
			id = cr.AccountID
			cr.Status, cr.Reason, cr.CheckedAt = model.InSync, "", time.Now()
			return tx.Put(k, cr)
		})
		if err != nil {
			return err
		}
		if err := tx.Delete(store.StatusKey(model.Unknown, id)); err != nil {
			return err
		}
		return tx.PutRaw(store.StatusKey(model.InSync, id), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseOnlyChangeOfInSyncAccountNeedsForce(t *testing.T) {
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	markInSync(t, s, "f/web/root")
	if a := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root")); a.Status != model.InSync {
		t.Fatalf("status = %s, want InSync", a.Status)
	}
	before := dump(t, s)
	_, err := s.Admin.Reset(&api.ResetRequest{Path: "f/web/root", Type: model.Password,
		Generate: true, DatabaseOnly: true})
	wantCode(t, err, api.CodeNeedsForce)
	_, err = s.Admin.Update(&api.UpdateRequest{Path: "f/web/root", Type: model.Password,
		Value: sec("Manual-Passw0rd!abcdefghij")})
	wantCode(t, err, api.CodeNeedsForce)
	if diff := cmp.Diff(dump(t, s), before); diff != "" {
		t.Fatalf("refused change altered the database (-got +want):\n%s", diff)
	}

	r := must[*api.JobResponse](t)(s.Admin.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Generate: true, DatabaseOnly: true, Force: true}))
	if r.Account.Status != model.Unknown || r.Job.Outcome != "database only, forced" || !r.Job.Forced {
		t.Errorf("after forced reset: status %s, outcome %q", r.Account.Status, r.Job.Outcome)
	}
	recs := must[*api.AuditList](t)(s.Admin.ListAudit("f/web/root", time.Time{}, 0))
	found := false
	for _, rec := range recs.Records {
		found = found || rec.Op == "account.reset" && rec.Detail == "database only, forced"
	}
	if !found {
		t.Errorf("audit has no 'database only, forced' reset: %+v", recs.Records)
	}
	if a := must[*api.AccountList](t)(s.Admin.ListAccounts("", "", model.Unknown)); len(a.Accounts) != 1 {
		t.Errorf("status index lists %d Unknown accounts, want 1", len(a.Accounts))
	}
	if a := must[*api.AccountList](t)(s.Admin.ListAccounts("", "", model.InSync)); len(a.Accounts) != 0 {
		t.Errorf("status index lists %d InSync accounts, want 0", len(a.Accounts))
	}
}

// dump returns the database without the audit trail, which refusals
// append to.
func dump(t *testing.T, s *testserver.Server) map[string]string {
	t.Helper()
	d, err := s.Service().Store().Dump(store.AuditPrefix(), []byte("m/audit-head"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
