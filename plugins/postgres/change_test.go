package postgres_test

import (
	"regexp"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	pgtest "github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/plugins/postgres"
	"github.com/passman-dev/passman/plugins/sdk"
)

// loggedVerifier matches an ALTER ROLE statement with a SCRAM verifier
// in the server's log.
var loggedVerifier = regexp.MustCompile(`ALTER ROLE .* PASSWORD +'SCRAM-SHA-256\$4096:`)

// change asks the driver to set role's password from current to next,
// logged in as reconcile when it is not nil.
func (f *fixture) change(t *testing.T, role, current, next string, reconcile *sdk.Login) error {
	t.Helper()
	f.secrets.Add(next)
	_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{JobID: "job-change",
		Target: f.target(), Account: role, Type: sdk.Password, Current: secret(current),
		New: secret(next), Reconcile: reconcile})
	return err
}

// wantPassword fails the test unless role logs in with want and not with
// old, both through the driver's Check and through a plain pgx login.
func (f *fixture) wantPassword(t *testing.T, role, want, old string) {
	t.Helper()
	if err := f.srv.CanLogin(t, role, want); err != nil {
		t.Errorf("logging in as %s with the password it should have: %v", role, err)
	}
	if err := f.srv.CanLoginPsql(t, role, want); err != nil {
		t.Errorf("logging in as %s through psql with the password it should have: %v",
			role, err)
	}
	if err := f.srv.CanLogin(t, role, old); err == nil {
		t.Errorf("%s still logs in with the password it should no longer have", role)
	}
	_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{Target: f.target(), Account: role,
		Credential: drivertest.Password(want)})
	wantReason(t, err, "")
}

func TestChangeSelf(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Options{})
	t.Run("new works, old fails", func(t *testing.T) {
		role, pw := f.role(t)
		next := pgtest.Password(t)
		wantReason(t, f.change(t, role, pw, next, nil), "")
		f.wantPassword(t, role, next, pw)
	})
	t.Run("role name that needs quoting", func(t *testing.T) {
		role, pw := `Pmt "odd" role; --`+pgtest.RoleName(t)[3:], pgtest.Password(t)
		f.srv.CreateRole(t, role, pw)
		f.secrets.Add(pw)
		next := pgtest.Password(t)
		wantReason(t, f.change(t, role, pw, next, nil), "")
		f.wantPassword(t, role, next, pw)
	})
	t.Run("unicode password", func(t *testing.T) {
		role, pw := f.role(t)
		next := "Grüße-" + pgtest.Password(t) + "-日本"
		wantReason(t, f.change(t, role, pw, next, nil), "")
		f.wantPassword(t, role, next, pw)
	})
	t.Run("wrong current password", func(t *testing.T) {
		role, pw := f.role(t)
		wrong, next := pgtest.Password(t), pgtest.Password(t)
		f.secrets.Add(wrong)
		wantReason(t, f.change(t, role, wrong, next, nil), sdk.ReasonAuthFailed, wrong, next)
		f.wantPassword(t, role, pw, next)
	})
	t.Run("NOLOGIN role", func(t *testing.T) {
		role, pw := f.role(t, "NOLOGIN")
		wantReason(t, f.change(t, role, pw, pgtest.Password(t), nil), sdk.ReasonLockedOut)
	})
	t.Run("the verifier is logged, not the password", func(t *testing.T) {
		if logs := f.srv.Logs(); !loggedVerifier.MatchString(logs) {
			t.Errorf("the server's log shows no ALTER ROLE with a verifier:\n%s", logs)
		}
	})
}

func TestChangeReconcile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Options{})
	admin, adminPW := f.role(t, "CREATEROLE")
	plain, plainPW := f.role(t)
	super, _ := f.role(t, "SUPERUSER")
	as := func(role, pw string) *sdk.Login {
		return &sdk.Login{Account: role, Credential: drivertest.Password(pw)}
	}

	t.Run("a password nobody knows", func(t *testing.T) {
		// The role's first password is thrown away: only the reconcile
		// account can set another.
		role := pgtest.RoleName(t)
		f.srv.CreateRole(t, role, pgtest.Password(t))
		next := pgtest.Password(t)
		wantReason(t, f.change(t, role, "", next, as(admin, adminPW)), "")
		f.wantPassword(t, role, next, "")
	})
	t.Run("wrong reconcile password", func(t *testing.T) {
		role, pw := f.role(t)
		wrong := pgtest.Password(t)
		f.secrets.Add(wrong)
		err := f.change(t, role, "", pgtest.Password(t), as(admin, wrong))
		wantReason(t, err, sdk.ReasonAuthFailed, wrong)
		f.wantPassword(t, role, pw, wrong)
	})
	t.Run("reconcile account without CREATEROLE", func(t *testing.T) {
		role, pw := f.role(t)
		err := f.change(t, role, "", pgtest.Password(t), as(plain, plainPW))
		wantReason(t, err, sdk.ReasonRejected, plainPW)
		f.wantPassword(t, role, pw, "")
	})
	t.Run("a superuser by a CREATEROLE role", func(t *testing.T) {
		err := f.change(t, super, "", pgtest.Password(t), as(admin, adminPW))
		wantReason(t, err, sdk.ReasonRejected, adminPW)
	})
	t.Run("no such role", func(t *testing.T) {
		err := f.change(t, pgtest.RoleName(t), "", pgtest.Password(t), as(admin, adminPW))
		wantReason(t, err, sdk.ReasonFailed, adminPW)
	})
}

// TestChangeRefusedEarly covers requests the driver refuses before it
// connects: the address points nowhere, so any attempt would fail
// otherwise.
func TestChangeRefusedEarly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		typ, current, next string
		reconcile          *sdk.Login
		want               sdk.Reason
	}{
		{"pin", sdk.PIN, "1234", "5678", nil, sdk.ReasonUnsupported},
		{"empty new", sdk.Password, "Old-Passw0rd", "", nil, sdk.ReasonInvalidParams},
		{"same as current", sdk.Password, "Old-Passw0rd", "Old-Passw0rd", nil,
			sdk.ReasonInvalidParams},
		{"no current and no reconcile", sdk.Password, "", "New-Passw0rd", nil,
			sdk.ReasonInvalidParams},
		{"NUL byte", sdk.Password, "Old-Passw0rd", "New\x00Passw0rd", nil,
			sdk.ReasonInvalidParams},
		{"unstable unicode", sdk.Password, "Old-Passw0rd", "New-Passw0rd-\uFB01", nil,
			sdk.ReasonInvalidParams},
		{"reconcile with a key", sdk.Password, "", "New-Passw0rd", &sdk.Login{
			Account: "admin", Credential: sdk.Credential{Type: sdk.SSHKey,
				Value: secret("key")}}, sdk.ReasonUnsupported},
		{"reconcile with no password", sdk.Password, "", "New-Passw0rd", &sdk.Login{
			Account: "admin", Credential: drivertest.Password("")}, sdk.ReasonInvalidParams},
	}
	drv := postgres.New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drv.Change(t.Context(), &sdk.ChangeRequest{Target: target("host.invalid"),
				Account: "app", Type: tc.typ, Current: secret(tc.current), New: secret(tc.next),
				Reconcile: tc.reconcile})
			wantReason(t, err, tc.want, tc.current, tc.next)
		})
	}
}
