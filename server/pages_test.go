package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
)

// TestAccountPages reads account lists page by page, with every filter the
// console uses, and compares them with the whole list filtered here: the
// pages hold each match once, in tree order, and Total counts them all.
func TestAccountPages(t *testing.T) {
	s := testserver.Start(t)
	c := s.Admin
	for _, f := range []string{"a", "b"} {
		must[*api.Folder](t)(c.CreateFolder(f))
	}
	for i, tg := range []string{"a/t1", "a/t2", "b/t3"} {
		must[*api.Target](t)(c.CreateTarget(&api.TargetCreateRequest{Path: tg, Type: "ssh",
			Address: fmt.Sprintf("10.0.0.%d:22", i+1), Zone: "dc1"}))
		for n := range 17 {
			name := fmt.Sprintf("svc%02d", n)
			if n%5 == 0 {
				name = fmt.Sprintf("Backup%02d", n)
			}
			path := tg + "/" + name
			must[*api.JobResponse](t)(c.CreateAccount(&api.AccountCreateRequest{Path: path,
				Credentials: []api.CredentialSpec{{Type: model.Password, Generate: true}}}))
			if n%3 == 0 {
				// With no agent in the zone, the change waits: the account
				// is Changing meanwhile.
				must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: path, Type: model.Password,
					Generate: true}))
			}
		}
	}
	// bob may read one target's accounts, carol one account: neither may
	// read the folders above, and the lists still show them what they may.
	user := func(name, path string) *client.Client {
		must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: name, Password: sec(name + "-console-pass")}))
		must[*api.Grant](t)(c.Grant(&api.GrantRequest{Path: path, To: name, Ops: []string{"read"}}))
		return s.Client(t, []byte(must[*api.LoginResponse](t)(c.Login(&api.LoginRequest{User: name,
			Password: sec(name + "-console-pass")})).Token))
	}
	bob, carol := user("bob", "a/t2"), user("carol", "b/t3/svc01")

	all := must[*api.AccountList](t)(c.ListAccounts("", "", "")).Accounts
	if len(all) != 51 {
		t.Fatalf("%d accounts, want 51", len(all))
	}
	statuses := map[model.SyncStatus]int{}
	for _, a := range all {
		statuses[a.Status]++
	}
	if len(statuses) < 2 {
		t.Fatalf("statuses %v: the test needs at least two", statuses)
	}

	cases := []struct {
		name   string
		who    *client.Client
		folder string
		query  string
		status model.SyncStatus
		limit  int
		keep   func(a api.Account) bool
	}{
		{name: "everything", limit: 7},
		{name: "one page holds all", limit: 500},
		{name: "page of one", limit: 1},
		{name: "folder", folder: "b", limit: 6, keep: under("b/")},
		{name: "search ignores case", query: "BACKUP", limit: 4, keep: contains("backup")},
		{name: "search matches the path", query: "t2/svc1", limit: 3, keep: contains("t2/svc1")},
		{name: "status", status: all[0].Status, limit: 5, keep: hasStatus(all[0].Status)},
		{name: "status, search and folder", folder: "a", query: "svc", status: model.Changing, limit: 2,
			keep: func(a api.Account) bool {
				return under("a/")(a) && contains("svc")(a) && a.Status == model.Changing
			}},
		{name: "search with no match", query: "nothing-like-this", limit: 10, keep: contains("nothing-like-this")},
		{name: "only what the user may read", who: bob, limit: 4, keep: under("a/t2/")},
		{name: "a grant on one account", who: carol, limit: 3, keep: under("b/t3/svc01")},
		{name: "the user's search", who: bob, query: "backup", limit: 2,
			keep: func(a api.Account) bool { return under("a/t2/")(a) && contains("backup")(a) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			who := tc.who
			if who == nil {
				who = c
			}
			var want []string
			for _, a := range all {
				if tc.keep == nil || tc.keep(a) {
					want = append(want, a.Path)
				}
			}
			var got []string
			for off := 0; ; off += tc.limit {
				page := must[*api.AccountList](t)(who.PageAccounts(tc.folder, tc.query, tc.status, tc.limit, off))
				if page.Total != len(want) {
					t.Fatalf("offset %d: total %d, want %d", off, page.Total, len(want))
				}
				if len(page.Accounts) > tc.limit {
					t.Fatalf("offset %d: %d accounts on a page of %d", off, len(page.Accounts), tc.limit)
				}
				for _, a := range page.Accounts {
					got = append(got, a.Path)
					if len(a.Credentials) == 0 || a.Credentials[0].Type != model.Password {
						t.Errorf("%s listed without its credentials", a.Path)
					}
				}
				if len(page.Accounts) < tc.limit || off > len(want) {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages hold %v\nwant %v", got, want)
			}
		})
	}

	t.Run("a page past the end is empty", func(t *testing.T) {
		page := must[*api.AccountList](t)(c.PageAccounts("", "", "", 10, 1000))
		if len(page.Accounts) != 0 || page.Total != len(all) {
			t.Errorf("%d accounts, total %d; want none of %d", len(page.Accounts), page.Total, len(all))
		}
	})
	t.Run("each row says what the user may do", func(t *testing.T) {
		for _, a := range must[*api.AccountList](t)(bob.PageAccounts("", "", "", 50, 0)).Accounts {
			if len(a.Allowed) != 0 {
				t.Errorf("%s: bob, who may only read, is offered %v", a.Path, a.Allowed)
			}
		}
		for _, a := range must[*api.AccountList](t)(c.PageAccounts("", "", "", 50, 0)).Accounts {
			if !slices.Contains(a.Allowed, "reset") || !slices.Contains(a.Allowed, "checkout") {
				t.Errorf("%s: the administrator is offered only %v", a.Path, a.Allowed)
			}
		}
	})
}

func under(prefix string) func(api.Account) bool {
	return func(a api.Account) bool { return strings.HasPrefix(a.Path, prefix) }
}

func contains(part string) func(api.Account) bool {
	return func(a api.Account) bool { return strings.Contains(strings.ToLower(a.Path), part) }
}

func hasStatus(st model.SyncStatus) func(api.Account) bool {
	return func(a api.Account) bool { return a.Status == st }
}
