package redis_test

import (
	"os"
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	driver "github.com/passman-dev/passman/plugins/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestPersist changes passwords on servers that load their users from a
// file at start, restarts them, and checks which password they came back
// with.
func TestPersist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    redis.Options
		persist string
		// rules are the account's own; with none the change goes
		// through a reconcile account that may do anything.
		rules    []string
		survives bool
	}{
		{"none", redis.Options{}, "none", nil, false},
		{"acl_save by reconcile", redis.Options{ACLFile: true}, "acl_save", nil, true},
		{"acl_save by the account", redis.Options{ACLFile: true}, "acl_save",
			[]string{"+acl|setuser", "+acl|save"}, true},
		{"config_rewrite by reconcile", redis.Options{}, "config_rewrite", nil, true},
		{"config_rewrite by the account", redis.Options{}, "config_rewrite",
			[]string{"+acl|setuser", "+config|rewrite"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redis.StartWith(t, tt.opts)
			name, old := redis.UserName(t), redis.Password(t)
			srv.CreateUser(t, name, old, tt.rules...)
			saveUsers(t, srv)

			next := redis.Password(t)
			req := &sdk.ChangeRequest{
				Target: sdk.Target{Address: srv.Addr,
					Params: map[string]string{"persist": tt.persist}},
				Account: name,
				Type:    sdk.Password,
				Current: sdk.NewSecret([]byte(old)),
				New:     sdk.NewSecret([]byte(next)),
			}
			if tt.rules == nil {
				req.Current, req.Reconcile = sdk.Secret{}, login(redis.AdminUser, srv.AdminPassword)
			}
			if _, err := driver.New().Change(t.Context(), req); err != nil {
				t.Fatalf("Change: %v", err)
			}
			noPasswordsIn(t, srv, old, next)

			srv.Restart(t)
			want, gone := next, old
			if !tt.survives {
				want, gone = old, next
			}
			if err := srv.CanAuth(t, name, want); err != nil {
				t.Errorf("after the restart, AUTH with the password expected: %v", err)
			}
			if srv.CanAuth(t, name, gone) == nil {
				t.Error("after the restart, the other password works")
			}
		})
	}
}

// TestPersistRefused has an account that may change its password but not
// save it: the change stays in the server's memory and the driver says
// that it could not be saved.
func TestPersistRefused(t *testing.T) {
	t.Parallel()
	srv := redis.StartWith(t, redis.Options{ACLFile: true})
	name, old := redis.UserName(t), redis.Password(t)
	srv.CreateUser(t, name, old, "+acl|setuser")
	next := redis.Password(t)

	_, err := driver.New().Change(t.Context(), &sdk.ChangeRequest{
		Target: sdk.Target{Address: srv.Addr,
			Params: map[string]string{"persist": "acl_save"}},
		Account: name,
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(old)),
		New:     sdk.NewSecret([]byte(next)),
	})
	if got := drivertest.Reason(t, err); got != sdk.ReasonRejected ||
		!strings.Contains(err.Error(), "ACL SAVE") {
		t.Errorf("Change: %v, want rejected, naming ACL SAVE", err)
	}
	if err := srv.CanAuth(t, name, next); err != nil {
		t.Errorf("AUTH with the new password, which the server holds in memory: %v", err)
	}
}

// saveUsers writes the server's users to the file it loads them from.
func saveUsers(t *testing.T, srv *redis.Server) {
	t.Helper()
	cmd := []string{"CONFIG", "REWRITE"}
	if srv.ACLFile != "" {
		cmd = []string{"ACL", "SAVE"}
	}
	srv.Run(t, cmd...)
}

// noPasswordsIn fails the test if the server's files hold a password in
// clear.
func noPasswordsIn(t *testing.T, srv *redis.Server, passwords ...string) {
	t.Helper()
	for _, path := range []string{srv.Config, srv.ACLFile} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range passwords {
			if strings.Contains(string(b), pw) {
				t.Errorf("%s holds a password in clear", path)
			}
		}
	}
}
