package e2e

import (
	"maps"
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	"github.com/passman-dev/passman/server/model"
)

// Where the Redis test target lives in PassMan.
const (
	redisZone    = "cache"
	redisTarget  = "cache/redis"
	redisAppPath = redisTarget + "/app"
)

// redisReset runs `passman account reset --generate --wait` on a password
// with more flags, and returns what it printed. A failed job is not an
// error here: the caller judges the jobs.
func (e *env) redisReset(path string, flags ...string) *resetOutput {
	e.t.Helper()
	args := append([]string{"account", "reset", path, "--type", "password", "--generate",
		"--wait", "-o", "json"}, flags...)
	out, err := e.passman("", args...)
	if err != nil && !strings.Contains(err.Error(), "job failed") {
		e.t.Fatal(err)
	}
	return parseResetOutput(e.t, out)
}

// TestRedisCredentials manages the passwords of ACL users on a real
// redis-server: an application's user, which may not change its own
// password and is reset through the admin user as reconcile account, and
// the admin user itself, which changes its own. Each outcome is proved by
// logging in from outside PassMan, and the changes are saved so that they
// survive a restart of the server.
func TestRedisCredentials(t *testing.T) {
	srv := redis.Start(t)
	mon := srv.Monitor(t)
	e := newEnv(t, testserver.Config{})
	appPW := redis.Password(t)
	srv.CreateUser(t, "app", appPW, "+ping", "+get", "+set", "~app:*")

	setup := [][]string{
		{"folder", "create", "cache"},
		{"target", "create", redisTarget, "--type", "redis", "--address", srv.Addr,
			"--zone", redisZone, "--param", "connect_timeout=5s",
			"--param", "persist=config_rewrite", "--reconcile-account", redis.AdminUser},
		{"account", "create", redisTarget + "/" + redis.AdminUser, "--credential", "password",
			"--value-stdin"},
		{"account", "create", redisAppPath, "--credential", "password", "--value-stdin"},
	}
	stdin := []string{"", "", srv.AdminPassword + "\n", appPW + "\n"}
	for i, args := range setup {
		if _, err := e.passman(stdin[i], args...); err != nil {
			t.Fatal(err)
		}
	}
	ag := e.startAgent(e.enroll(redisZone), nil)
	secrets := []string{srv.AdminPassword, appPW}

	t.Run("check", func(t *testing.T) {
		e := e.on(t)
		if _, err := e.passman("", "account", "check", redisAppPath, "--wait"); err != nil {
			t.Fatal(err)
		}
		if a := e.snapshot(redisAppPath); a.Status != model.InSync {
			t.Errorf("after a check the account is %s, want InSync", a.Status)
		}
	})

	t.Run("own reset refused", func(t *testing.T) {
		e := e.on(t)
		r := e.redisReset(redisAppPath)
		change := e.waitJob(r.started.Job.ID)
		if change.State != model.JobFailed || change.Reason != "unsupported" {
			t.Errorf("change = %s %s %q, want failed unsupported", change.State, change.Reason,
				change.Outcome)
		}
		if a := e.waitSettled(redisAppPath); a.Status != model.InSync {
			t.Errorf("after the refused change the account is %s, want InSync", a.Status)
		}
		if v := e.checkout(redisAppPath, model.Password); v != appPW {
			t.Error("after the refused change PassMan holds another password")
		}
		wantRedisAuth(t, srv, "app", "the unchanged password", appPW)
	})

	t.Run("reset through the reconcile account", func(t *testing.T) {
		e := e.on(t)
		old := e.checkout(redisAppPath, model.Password)
		next := e.redisResetInSync(redisAppPath, "--reconcile")
		secrets = append(secrets, next)
		wantRedisAuth(t, srv, "app", "the new password", next)
		wantRedisRefused(t, srv, "app", "the old password", old)
	})

	t.Run("own reset of the reconcile account", func(t *testing.T) {
		e := e.on(t)
		adminPath := redisTarget + "/" + redis.AdminUser
		next := e.redisResetInSync(adminPath)
		secrets = append(secrets, next)
		wantRedisAuth(t, srv, redis.AdminUser, "the new password", next)
		wantRedisRefused(t, srv, redis.AdminUser, "the old password", srv.AdminPassword)
		srv.AdminPassword = next

		// The next reconcile logs in with the reconcile account's new
		// password.
		v := e.redisResetInSync(redisAppPath, "--reconcile")
		secrets = append(secrets, v)
		wantRedisAuth(t, srv, "app", "the password set with the new one", v)
	})

	// What the server kept before the restart, for the search for
	// secrets.
	var before map[string]string
	top := t
	t.Run("check after a restart", func(t *testing.T) {
		e := e.on(t)
		before = map[string]string{"redis slow log before the restart": srv.SlowLog(t),
			"redis monitor before the restart": mon.Flush(t)}
		// The changes were saved to the configuration file, which the
		// server reads its users from again.
		srv.Restart(t)
		mon = srv.Monitor(top)
		paths := []string{redisAppPath, redisTarget + "/" + redis.AdminUser}
		if _, err := e.passman("", append([]string{"account", "check", "--wait"},
			paths...)...); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if a := e.snapshot(p); a.Status != model.InSync {
				t.Errorf("after the restart %s is %s, want InSync", p, a.Status)
			}
		}
	})

	t.Run("no secret in the logs", func(t *testing.T) {
		logs := map[string]string{"server": e.srv.Logs.String(),
			"agent": ag.logs.String(), "redis-server": srv.Logs(),
			"redis slow log": srv.SlowLog(t), "redis monitor": mon.Flush(t)}
		maps.Copy(logs, before)
		noSecretsIn(t, logs, secrets)
	})
}

// redisResetInSync resets a password with a generated one and flags,
// fails the test unless the reset succeeded and left the account InSync,
// and returns the new password.
func (e *env) redisResetInSync(path string, flags ...string) string {
	e.t.Helper()
	r := e.redisReset(path, flags...)
	if j := r.last(e.t); j.ID != r.started.Job.ID || j.State != model.JobSucceeded {
		e.t.Fatalf("reset = job %s %s %s %q, want job %s succeeded",
			j.ID, j.State, j.Reason, j.Outcome, r.started.Job.ID)
	}
	if a := e.waitSettled(path); a.Status != model.InSync {
		e.t.Errorf("after the reset the account is %s, want InSync", a.Status)
	}
	return e.checkout(path, model.Password)
}

// wantRedisAuth fails the test unless the server accepts user's password.
func wantRedisAuth(t *testing.T, srv *redis.Server, user, what, pw string) {
	t.Helper()
	if err := srv.CanAuth(t, user, pw); err != nil {
		t.Errorf("AUTH %s with %s: %v", user, what, err)
	}
}

// wantRedisRefused fails the test unless the server refuses user's
// password.
func wantRedisRefused(t *testing.T, srv *redis.Server, user, what, pw string) {
	t.Helper()
	err := srv.CanAuth(t, user, pw)
	if err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH %s with %s: %v, want WRONGPASS", user, what, err)
	}
}
