package redis_test

import (
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestChangeOwn changes passwords with the accounts' own logins.
func TestChangeOwn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("allowed ACL SETUSER", func(t *testing.T) {
		t.Parallel()
		name, old := f.user(t, "+acl|setuser")
		next := f.newPassword(t)
		if err := f.change(t, name, old, next, nil); err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantAuth(t, "the new password", name, next)
		f.wantRefused(t, "the old password", name, old)
		// The new password was added and the old one removed by one
		// command, which Redis applies whole or not at all.
		if n := f.srv.Passwords(t, name); n != 1 {
			t.Errorf("the account has %d passwords after the change, want 1", n)
		}
	})

	t.Run("other passwords kept", func(t *testing.T) {
		t.Parallel()
		name, old := f.user(t, "+acl|setuser")
		other := f.newPassword(t)
		f.srv.SetUser(t, name, ">"+other)
		next := f.newPassword(t)
		if err := f.change(t, name, old, next, nil); err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantAuth(t, "the new password", name, next)
		f.wantAuth(t, "the other password", name, other)
		f.wantRefused(t, "the old password", name, old)
	})

	t.Run("not allowed ACL SETUSER", func(t *testing.T) {
		t.Parallel()
		name, old := f.user(t, "+ping", "+get", "~app:*")
		next := f.newPassword(t)
		err := f.change(t, name, old, next, nil)
		if got := drivertest.Reason(t, err); got != sdk.ReasonUnsupported ||
			!strings.Contains(err.Error(), "reconcile account") {
			t.Errorf("Change: %v, want unsupported, pointing to a reconcile account", err)
		}
		f.wantAuth(t, "the old password", name, old)
		f.wantRefused(t, "the new password", name, next)
	})

	t.Run("wrong current password", func(t *testing.T) {
		t.Parallel()
		name, actual := f.user(t, "+acl|setuser")
		wrong, next := f.newPassword(t), f.newPassword(t)
		err := f.change(t, name, wrong, next, nil)
		if got := drivertest.Reason(t, err); got != sdk.ReasonAuthFailed {
			t.Errorf("Change: reason %q (%v), want auth_failed", got, err)
		}
		f.wantAuth(t, "the actual password", name, actual)
		f.wantRefused(t, "the new password", name, next)
	})
}

// TestReconcile changes passwords through a reconcile account.
func TestReconcile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec, recPW := f.user(t, "+acl|getuser", "+acl|setuser")

	t.Run("unknown password", func(t *testing.T) {
		t.Parallel()
		// Nobody knows the account's two passwords, nor that it has two.
		name, old := f.user(t, "+ping")
		other := f.newPassword(t)
		f.srv.SetUser(t, name, ">"+other)
		next := f.newPassword(t)
		if err := f.change(t, name, "", next, login(rec, recPW)); err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantAuth(t, "the new password", name, next)
		f.wantRefused(t, "the old password", name, old)
		f.wantRefused(t, "the other old password", name, other)
		if n := f.srv.Passwords(t, name); n != 1 {
			t.Errorf("the account has %d passwords after the change, want 1", n)
		}
	})

	t.Run("passwordless account", func(t *testing.T) {
		t.Parallel()
		name, _ := f.user(t, "nopass")
		next := f.newPassword(t)
		if err := f.change(t, name, "", next, login(rec, recPW)); err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantRefused(t, "any other password", name, f.newPassword(t))
		f.wantAuth(t, "the new password", name, next)
	})

	failures := []struct {
		name     string
		rules    []string
		account  func(t *testing.T) string
		recLogin func(t *testing.T) *sdk.Login
		want     sdk.Reason
	}{
		{"disabled account", []string{"off"}, nil, nil, sdk.ReasonLockedOut},
		{"no such account", nil, func(t *testing.T) string { return redis.UserName(t) }, nil,
			sdk.ReasonFailed},
		{"wrong reconcile password", nil, nil,
			func(*testing.T) *sdk.Login { return login(rec, recPW+"x") }, sdk.ReasonAuthFailed},
		{"reconcile account without ACL", nil, nil, func(t *testing.T) *sdk.Login {
			name, pw := f.user(t, "+ping")
			return login(name, pw)
		}, sdk.ReasonRejected},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, old := f.user(t, tt.rules...)
			account, l := name, login(rec, recPW)
			if tt.account != nil {
				account = tt.account(t)
			}
			if tt.recLogin != nil {
				l = tt.recLogin(t)
			}
			next := f.newPassword(t)
			err := f.change(t, account, "", next, l)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
			f.srv.SetUser(t, name, "on")
			f.wantAuth(t, "the old password", name, old)
			f.wantRefused(t, "the new password", account, next)
			if account != name {
				f.wantNoUser(t, account)
			}
		})
	}
}
