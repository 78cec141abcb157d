package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
)

// grant gives ops on path to a user or "@group", as c.
func grant(t *testing.T, c *client.Client, path, to string, ops ...string) {
	t.Helper()
	must[*api.Grant](t)(c.Grant(&api.GrantRequest{Path: path, To: to, Ops: ops}))
}

// addAccount creates folder/target/account with a password, creating the
// folder and the target.
func addAccount(t *testing.T, c *client.Client, folder, target, account string) {
	t.Helper()
	must[*api.Folder](t)(c.CreateFolder(folder))
	must[*api.Target](t)(c.CreateTarget(&api.TargetCreateRequest{Path: folder + "/" + target,
		Type: "ssh", Address: "10.0.0.2:22", Zone: "dc1"}))
	must[*api.JobResponse](t)(c.CreateAccount(&api.AccountCreateRequest{
		Path:        folder + "/" + target + "/" + account,
		Credentials: []api.CredentialSpec{{Type: model.Password, Generate: true}}}))
}

// accountPaths returns the paths of the accounts c lists under folder.
func accountPaths(c *client.Client, folder string) ([]string, error) {
	l, err := c.ListAccounts(folder, "", "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range l.Accounts {
		out = append(out, a.Path)
	}
	return out, nil
}

// refusal is what the audit trail records of a forbidden request.
type refusal struct{ Op, Path string }

func TestGrantsAreInheritedDownTheTree(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	demo(t, c, "Initial-Passw0rd!xyzxyzxyz")
	addAccount(t, c, "g", "db", "root")
	bob := newUser(t, s, "bob", nil)
	carol := newUser(t, s, "carol", []string{"ops"})
	grant(t, c, "f", "bob", "read")
	grant(t, c, "g", "@ops", "read")

	var refused []refusal
	canShow := func(who *client.Client, path string, want bool) func(t *testing.T) {
		return func(t *testing.T) {
			a, err := who.ShowAccount(path)
			switch {
			case want && err != nil:
				t.Fatalf("show %s: %v", path, err)
			case want && a.Path != path:
				t.Errorf("show %s answered %s", path, a.Path)
			case !want:
				wantCode(t, err, api.CodeForbidden)
				if who == bob {
					refused = append(refused, refusal{"account.show", path})
				}
			}
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"user reads an account below its grant", canShow(bob, "f/web/root", true)},
		{"user reads a target below its grant", func(t *testing.T) {
			must[*api.Target](t)(bob.ShowTarget("f/web"))
		}},
		{"user lists the folder of its grant", func(t *testing.T) {
			got := must[[]string](t)(accountPaths(bob, "f"))
			if diff := cmp.Diff(got, []string{"f/web/root"}); diff != "" {
				t.Errorf("accounts (-got +want):\n%s", diff)
			}
		}},
		{"user cannot read another folder", canShow(bob, "g/db/root", false)},
		{"user cannot probe a missing account elsewhere", canShow(bob, "g/db/ghost", false)},
		{"user cannot list another folder", func(t *testing.T) {
			_, err := accountPaths(bob, "g")
			wantCode(t, err, api.CodeForbidden)
			refused = append(refused, refusal{"account.list", "g"})
		}},
		{"administrator lists both folders", func(t *testing.T) {
			got := must[[]string](t)(accountPaths(c, ""))
			if diff := cmp.Diff(got, []string{"f/web/root", "g/db/root"}); diff != "" {
				t.Errorf("accounts (-got +want):\n%s", diff)
			}
		}},
		{"group member reads below the group's grant", canShow(carol, "g/db/root", true)},
		{"group member cannot read elsewhere", canShow(carol, "f/web/root", false)},
		{"user without manage_permissions cannot grant", func(t *testing.T) {
			before := dump(t, s)
			_, err := bob.Grant(&api.GrantRequest{Path: "f", To: "bob", Ops: []string{"checkout"}})
			wantCode(t, err, api.CodeForbidden)
			refused = append(refused, refusal{"permission.grant", "f"})
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("refused grant changed the database (-got +want):\n%s", diff)
			}
		}},
		{"user without manage_permissions cannot revoke", func(t *testing.T) {
			_, err := bob.Revoke(&api.GrantRequest{Path: "g", To: "@ops", Ops: []string{"read"}})
			wantCode(t, err, api.CodeForbidden)
			refused = append(refused, refusal{"permission.revoke", "g"})
		}},
		{"revoke removes the grant", func(t *testing.T) {
			g := must[*api.Grant](t)(c.Revoke(&api.GrantRequest{Path: "f", To: "bob",
				Ops: []string{"read"}}))
			if len(g.Ops) != 0 {
				t.Errorf("grant after revoke holds %v", g.Ops)
			}
			canShow(bob, "f/web/root", false)(t)
		}},
		{"revoked user cannot list", func(t *testing.T) {
			_, err := accountPaths(bob, "f")
			wantCode(t, err, api.CodeForbidden)
			refused = append(refused, refusal{"account.list", "f"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}

	t.Run("every refusal is audited", func(t *testing.T) {
		var got []refusal
		recs := must[*api.AuditList](t)(c.ListAudit("", time.Time{}, 10000)).Records
		for _, r := range recs {
			if r.Actor == "bob" && r.Outcome == "refused" {
				if r.Code != string(api.CodeForbidden) {
					t.Errorf("bob's %s was refused with %s, want forbidden", r.Op, r.Code)
				}
				got = append(got, refusal{r.Op, r.Path})
			}
		}
		if diff := cmp.Diff(got, refused); diff != "" {
			t.Errorf("audited refusals (-got +want):\n%s", diff)
		}
	})
}

// TestListingFromTheRootShowsWhatTheUserMayRead lists from the root as a
// user whose only grant is on one folder.
func TestListingFromTheRootShowsWhatTheUserMayRead(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	addAccount(t, s.Admin, "g", "db", "root")
	bob := newUser(t, s, "bob", nil)
	grant(t, s.Admin, "f", "bob", "read")
	cases := []struct {
		name string
		list func() ([]string, error)
		want []string
	}{
		{"accounts", func() ([]string, error) { return accountPaths(bob, "") },
			[]string{"f/web/root"}},
		{"targets", func() ([]string, error) {
			l, err := bob.ListTargets("")
			if err != nil {
				return nil, err
			}
			var out []string
			for _, tg := range l.Targets {
				out = append(out, tg.Path)
			}
			return out, nil
		}, []string{"f/web"}},
		{"folders", func() ([]string, error) {
			l, err := bob.ListFolders("")
			if err != nil {
				return nil, err
			}
			var out []string
			for _, f := range l.Folders {
				out = append(out, f.Path)
			}
			return out, nil
		}, []string{"f"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := must[[]string](t)(tc.list())
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("%s listed from the root (-got +want):\n%s", tc.name, diff)
			}
		})
	}
}

// TestEachOperationNeedsItsGrant gives a user every operation but one and
// checks that the request needing that one is refused until it is granted.
func TestEachOperationNeedsItsGrant(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	demo(t, c, "Initial-Passw0rd!xyzxyzxyz")
	// A second version, so that revision 1 can always be restored.
	must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Generate: true, DatabaseOnly: true}))

	const path = "f/web/root"
	pw := model.Password
	cases := []struct {
		op   auth.Op
		call func(c *client.Client) error
	}{
		{auth.OpReset, func(c *client.Client) error {
			_, err := c.Reset(&api.ResetRequest{Path: path, Type: pw, Generate: true,
				DatabaseOnly: true})
			return err
		}},
		{auth.OpUpdateCredentials, func(c *client.Client) error {
			_, err := c.Update(&api.UpdateRequest{Path: path, Type: pw,
				Value: sec("Manual-Passw0rd!abcdefghij")})
			return err
		}},
		{auth.OpCheckOut, func(c *client.Client) error {
			_, err := c.Checkout(&api.CheckoutRequest{Path: path, Type: pw})
			return err
		}},
		{auth.OpReadRevisions, func(c *client.Client) error {
			_, err := c.Revisions(path, pw)
			return err
		}},
		{auth.OpRestore, func(c *client.Client) error {
			_, err := c.Restore(&api.RestoreRequest{Path: path, Type: pw, Revision: 1,
				DatabaseOnly: true})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.op), func(t *testing.T) {
			name := "u-" + string(tc.op)
			u := newUser(t, s, name, nil)
			var others []string
			for _, op := range auth.AllOps {
				if op != tc.op {
					others = append(others, string(op))
				}
			}
			grant(t, c, "f", name, others...)

			before := dump(t, s)
			wantCode(t, tc.call(u), api.CodeForbidden)
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("refused request changed the database (-got +want):\n%s", diff)
			}
			grant(t, c, "f", name, string(tc.op))
			if err := tc.call(u); err != nil {
				t.Errorf("with %s granted: %v", tc.op, err)
			}
			g := must[*api.GrantList](t)(c.ListGrants("f"))
			i := slices.IndexFunc(g.Grants, func(g api.Grant) bool { return g.Principal == name })
			if i < 0 || len(g.Grants[i].Ops) != len(auth.AllOps) {
				t.Errorf("grants on f = %+v, want %s holding every operation", g.Grants, name)
			}
		})
	}
}
