package server_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
)

// revision is the part of an api.Revision a test can predict.
type revision struct {
	N         uint64
	Source    string
	CreatedBy string
	Current   bool
	Pending   bool
}

func revisionsOf(t *testing.T, c *client.Client, path string) []revision {
	t.Helper()
	l := must[*api.RevisionList](t)(c.Revisions(path, model.Password))
	var out []revision
	for _, r := range l.Revisions {
		out = append(out, revision{N: r.N, Source: r.Source, CreatedBy: r.CreatedBy,
			Current: r.Current, Pending: r.Pending})
	}
	return out
}

// passwordValue checks out the password of path.
func passwordValue(t *testing.T, c *client.Client, path string) string {
	t.Helper()
	return must[*api.CheckoutResponse](t)(c.Checkout(&api.CheckoutRequest{Path: path,
		Type: model.Password})).Value
}

func TestRevisions(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	const path = "f/web/root"
	const first, typed = "Initial-Passw0rd!xyzxyzxyz", "Typed-Passw0rd!abcdefghijk"
	pw := model.Password
	demo(t, c, first)

	must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: path, Type: pw, Value: sec(typed),
		DatabaseOnly: true}))
	must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: path, Type: pw, Generate: true,
		DatabaseOnly: true}))
	up := must[*api.JobResponse](t)(c.Update(&api.UpdateRequest{Path: path, Type: pw,
		Value: sec("Manual-Passw0rd!abcdefghij")}))
	cr := up.Account.Credentials[0]
	if cr.Status != model.Unknown || cr.Reason != "updated_in_database" {
		t.Errorf("after update: %s %q, want Unknown updated_in_database", cr.Status, cr.Reason)
	}
	if up.Job.Kind != model.JobUpdate || up.Job.State != model.JobSucceeded {
		t.Errorf("update job = %s %s, want update succeeded", up.Job.Kind, up.Job.State)
	}

	re := must[*api.JobResponse](t)(c.Restore(&api.RestoreRequest{Path: path, Type: pw,
		Revision: 1, DatabaseOnly: true}))
	cr = re.Account.Credentials[0]
	if re.Job.Kind != model.JobRestore || re.Job.State != model.JobSucceeded || cr.Version != 5 {
		t.Errorf("restore = job %s %s, version %d; want restore succeeded, version 5",
			re.Job.Kind, re.Job.State, cr.Version)
	}
	if cr.Status != model.Unknown || cr.Reason != "database_only" {
		t.Errorf("after restore: %s %q, want Unknown database_only", cr.Status, cr.Reason)
	}
	if passwordValue(t, c, path) != first {
		t.Errorf("restored value differs from revision 1's")
	}

	want := []revision{
		{5, "restore of 1", "admin", true, false},
		{4, "update", "admin", false, false},
		{3, "generated", "admin", false, false},
		{2, "typed", "admin", false, false},
		{1, "typed", "admin", false, false},
	}
	if diff := cmp.Diff(revisionsOf(t, c, path), want); diff != "" {
		t.Errorf("revisions (-got +want):\n%s", diff)
	}

	refusals := []struct {
		name     string
		revision uint64
		code     api.Code
	}{
		{"current revision", 5, api.CodeInvalidArgument},
		{"missing revision", 6, api.CodeNoRevision},
		{"far revision", 1 << 40, api.CodeNoRevision},
		{"revision zero", 0, api.CodeNoRevision},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			for _, dbOnly := range []bool{true, false} {
				before := dump(t, s)
				_, err := c.Restore(&api.RestoreRequest{Path: path, Type: pw, Revision: tc.revision,
					DatabaseOnly: dbOnly})
				wantCode(t, err, tc.code)
				if diff := cmp.Diff(dump(t, s), before); diff != "" {
					t.Errorf("database only %t: refused restore changed the database "+
						"(-got +want):\n%s", dbOnly, diff)
				}
			}
		})
	}

	t.Run("restore on the target waits for an agent", func(t *testing.T) {
		r := must[*api.JobResponse](t)(c.Restore(&api.RestoreRequest{Path: path, Type: pw,
			Revision: 2}))
		if r.Job.State != model.JobWaitingAgent || !r.Job.ChangeOnTarget || r.Job.Version != 6 {
			t.Errorf("job = %+v, want waiting_agent on the target with version 6", r.Job)
		}
		cr := r.Account.Credentials[0]
		if cr.Status != model.Changing || cr.Pending != 6 || cr.Version != 5 ||
			cr.PendingJob != r.Job.ID {
			t.Errorf("credential = %+v, want Changing, pending 6 of job %s, current 5",
				cr, r.Job.ID)
		}
		got := revisionsOf(t, c, path)
		wantTop := revision{6, "restore of 2", "admin", false, true}
		if len(got) != 6 || got[0] != wantTop || !got[1].Current {
			t.Errorf("revisions = %+v, want pending 6 on top of current 5", got)
		}
		jobs := must[*api.JobList](t)(c.ListJobs(model.JobWaitingAgent))
		if len(jobs.Jobs) != 1 || jobs.Jobs[0].ID != r.Job.ID ||
			jobs.Jobs[0].Kind != model.JobRestore {
			t.Errorf("waiting jobs = %+v, want the restore", jobs.Jobs)
		}
		if passwordValue(t, c, path) != first {
			t.Errorf("checkout during the change gives another value than the current one")
		}
	})
}

// TestRevisionsPastSixteen checks the newest-first order once version
// numbers need a second hex digit.
func TestRevisionsPastSixteen(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	const path = "f/web/root"
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	values := map[uint64]string{1: "Initial-Passw0rd!xyzxyzxyz"}
	for n := uint64(2); n <= 18; n++ {
		values[n] = fmt.Sprintf("Value-%02d-Passw0rd!abcdefgh", n)
		must[*api.JobResponse](t)(s.Admin.Reset(&api.ResetRequest{Path: path, Type: model.Password,
			Value: sec(values[n]), DatabaseOnly: true}))
	}
	var want []revision
	for n := uint64(18); n >= 1; n-- {
		want = append(want, revision{N: n, Source: "typed", CreatedBy: "admin", Current: n == 18})
	}
	if diff := cmp.Diff(revisionsOf(t, s.Admin, path), want); diff != "" {
		t.Errorf("revisions (-got +want):\n%s", diff)
	}
	for _, n := range []uint64{15, 16, 17} {
		must[*api.JobResponse](t)(s.Admin.Restore(&api.RestoreRequest{Path: path,
			Type: model.Password, Revision: n, DatabaseOnly: true}))
		if passwordValue(t, s.Admin, path) != values[n] {
			t.Errorf("restore of revision %d gave another value", n)
		}
	}
}
