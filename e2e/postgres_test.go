package e2e

import (
	"testing"

	"github.com/passman-dev/passman/internal/testserver"
	pgtest "github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/server/model"
)

// The PostgreSQL target of the postgres tests and the zone of its agent.
const (
	pgTarget = "db/pg1"
	pgZone   = "z"
)

// createPGAccount creates the account of role on the PostgreSQL target
// with password as its first value, or with none when password is "".
func (e *env) createPGAccount(role, password string) string {
	e.t.Helper()
	path := pgTarget + "/" + role
	args := []string{"account", "create", path, "--credential", "password"}
	stdin := ""
	if password != "" {
		args, stdin = append(args, "--value-stdin"), password+"\n"
	}
	if _, err := e.passman(stdin, args...); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// TestPostgresCredentials changes the passwords of roles on a real
// PostgreSQL server through the CLI and an agent running the postgres
// driver, and proves each outcome by logging in from outside PassMan.
func TestPostgresCredentials(t *testing.T) {
	requireRoot(t)
	pg := pgtest.Start(t)
	e := newEnv(t, testserver.Config{})
	ag := e.startAgent(e.enroll(pgZone), nil)

	// The reconcile account may set other roles' passwords.
	recon, reconPW := pgtest.RoleName(t), pgtest.Password(t)
	pg.CreateRole(t, recon, reconPW, "CREATEROLE")
	secrets := []string{reconPW, pg.SuperPassword}
	for _, args := range [][]string{
		{"folder", "create", "db"},
		{"target", "create", pgTarget, "--type", "postgres", "--address", pg.Addr,
			"--zone", pgZone, "--param", "connect_timeout=5s", "--reconcile-account", recon},
	} {
		if _, err := e.passman("", args...); err != nil {
			t.Fatal(err)
		}
	}
	e.createPGAccount(recon, reconPW)

	t.Run("reset, check, changed outside", func(t *testing.T) {
		e := e.on(t)
		role, old := pgtest.RoleName(t), pgtest.Password(t)
		pg.CreateRole(t, role, old)
		secrets = append(secrets, old)
		path := e.createPGAccount(role, old)

		r := e.resetOnTarget(path, model.Password)
		if j := r.last(t); j.ID != r.started.Job.ID || j.State != model.JobSucceeded {
			t.Fatalf("reset = job %s %s %s %q, want job %s succeeded",
				j.ID, j.State, j.Reason, j.Outcome, r.started.Job.ID)
		}
		if a := e.waitSettled(path); a.Status != model.InSync {
			t.Errorf("after the reset the account is %s, want InSync", a.Status)
		}
		v := e.checkout(path, model.Password)
		secrets = append(secrets, v)
		wantPGLogin(t, pg, role, v, old)

		before := e.snapshot(path).Credentials[0].CheckedAt
		if _, err := e.passman("", "account", "check", path, "--wait"); err != nil {
			t.Fatal(err)
		}
		cr := e.snapshot(path).Credentials[0]
		if cr.Status != model.InSync || !cr.CheckedAt.After(before) {
			t.Errorf("after a check the credential is %s, checked at %v (before: %v); "+
				"want InSync and checked again", cr.Status, cr.CheckedAt, before)
		}

		// An administrator changes the password outside PassMan: the next
		// check must say so.
		outside := pgtest.Password(t)
		secrets = append(secrets, outside)
		pg.SetPassword(t, role, outside)
		if _, err := e.passman("", "account", "check", path, "--wait"); err == nil {
			t.Error("a check of a password changed outside PassMan succeeded")
		}
		if cr := e.snapshot(path).Credentials[0]; cr.Status != model.NotInSync ||
			cr.Reason != "auth_failed" {
			t.Errorf("after the outside change the credential is %s %s, "+
				"want NotInSync auth_failed", cr.Status, cr.Reason)
		}
	})

	t.Run("reconcile an unknown password", func(t *testing.T) {
		e := e.on(t)
		// The role's first password is thrown away: nobody knows it.
		role := pgtest.RoleName(t)
		pg.CreateRole(t, role, pgtest.Password(t))
		path := e.createPGAccount(role, "")

		v := e.resetByReconcile(path)
		secrets = append(secrets, v)
		wantPGLogin(t, pg, role, v, "")
	})

	t.Run("no secret in the logs", func(t *testing.T) {
		noSecretsIn(t, map[string]string{"server": e.srv.Logs.String(),
			"agent": ag.logs.String(), "postgres": pg.Logs()}, secrets)
	})
}

// wantPGLogin fails the test unless role logs in with want, through pgx
// and through psql, and not with old (unless old is empty).
func wantPGLogin(t *testing.T, pg *pgtest.Server, role, want, old string) {
	t.Helper()
	if err := pg.CanLogin(t, role, want); err != nil {
		t.Errorf("logging in as %s with the password PassMan holds: %v", role, err)
	}
	if err := pg.CanLoginPsql(t, role, want); err != nil {
		t.Errorf("logging in as %s through psql with the password PassMan holds: %v", role, err)
	}
	if old == "" {
		return
	}
	if err := pg.CanLogin(t, role, old); err == nil {
		t.Errorf("%s still logs in with its old password", role)
	}
}
