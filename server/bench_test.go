package server_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
)

// BenchmarkAccountsTab measures what the console's Accounts tab waits for:
// one page of 50 accounts out of 10,000, over HTTPS, as the tab asks for
// it when it opens, pages, filters by status and searches. Each op is one
// page. The accounts sit on 100 targets in 10 folders; every seventh has a
// change waiting for an agent (Changing), the rest are Unknown.
func BenchmarkAccountsTab(b *testing.B) {
	const folders, targetsPer, accountsPer, page = 10, 10, 100, 50
	s := testserver.Start(b)
	c := s.Admin
	var paths []string
	for f := range folders {
		if _, err := c.CreateFolder(fmt.Sprintf("dc%d", f)); err != nil {
			b.Fatal(err)
		}
		for t := range targetsPer {
			tg := fmt.Sprintf("dc%d/host%02d", f, t)
			if _, err := c.CreateTarget(&api.TargetCreateRequest{Path: tg, Type: "ssh",
				Address: fmt.Sprintf("10.%d.0.%d:22", f, t+1), Zone: "bench"}); err != nil {
				b.Fatal(err)
			}
			for a := range accountsPer {
				paths = append(paths, fmt.Sprintf("%s/user%03d", tg, a))
			}
		}
	}
	seed(b, c, paths)
	if _, err := c.CreateUser(&api.UserCreateRequest{Name: "ops", Password: sec("ops-bench-password")}); err != nil {
		b.Fatal(err)
	}
	for f := range folders / 2 {
		if _, err := c.Grant(&api.GrantRequest{Path: fmt.Sprintf("dc%d", f), To: "ops",
			Ops: []string{"read", "check", "reset"}}); err != nil {
			b.Fatal(err)
		}
	}
	login, err := c.Login(&api.LoginRequest{User: "ops", Password: sec("ops-bench-password")})
	if err != nil {
		b.Fatal(err)
	}
	ops := s.Client(b, []byte(login.Token))

	cases := []struct {
		name   string
		who    *client.Client
		query  string
		status model.SyncStatus
		offset int
	}{
		{name: "first-page", who: c},
		{name: "middle-page", who: c, offset: 5000},
		{name: "last-page", who: c, offset: len(paths) - page},
		{name: "status-filter", who: c, status: model.Changing},
		{name: "search", who: c, query: "user042"},
		{name: "search-no-match", who: c, query: "nobody"},
		{name: "status-and-search", who: c, status: model.Unknown, query: "host07/user0"},
		{name: "half-granted-user", who: ops, offset: 2000},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				l, err := tc.who.PageAccounts("", tc.query, tc.status, page, tc.offset)
				if err != nil {
					b.Fatal(err)
				}
				switch {
				case tc.query == "" && tc.status == "" && tc.who == c && l.Total != len(paths):
					b.Fatalf("%d accounts in all, want %d", l.Total, len(paths))
				case l.Total == 0 && tc.query != "nobody":
					b.Fatal("no accounts matched")
				}
			}
		})
	}
}

// seed creates the accounts from a few clients at once, as an import
// would, with a generated password each; every seventh then gets a change
// that waits for an agent.
func seed(b *testing.B, c *client.Client, paths []string) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(paths); i += 8 {
				_, err := c.CreateAccount(&api.AccountCreateRequest{Path: paths[i],
					Credentials: []api.CredentialSpec{{Type: model.Password, Generate: true}}})
				if err == nil && i%7 == 0 {
					_, err = c.Reset(&api.ResetRequest{Path: paths[i], Type: model.Password, Generate: true})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}
