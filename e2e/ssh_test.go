package e2e

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/server/model"
)

// sshTarget is the PassMan path of the lab's sshd.
const sshTarget = "lab/host"

// sshTargetArgs are the CLI arguments that create the target of the lab's
// sshd, with the options given.
func sshTargetArgs(l *sshLab, opts ...string) []string {
	args := []string{"target", "create", sshTarget, "--type", "ssh", "--address", l.sshd.Addr,
		"--zone", sshZone, "--param", "connect_timeout=5s"}
	return append(args, opts...)
}

// createSSHAccount creates the account of a local user on the lab's target
// with value as its first credential, or with no value when value is "".
func (e *env) createSSHAccount(user string, typ model.CredentialType, value string) string {
	e.t.Helper()
	path := sshTarget + "/" + user
	args := []string{"account", "create", path, "--credential", string(typ)}
	if value != "" {
		args = append(args, "--value-stdin")
		if typ == model.Password {
			value += "\n"
		}
	}
	if _, err := e.passman(value, args...); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// resetOnTarget runs `passman account reset --wait` with a generated value
// and returns what it printed. A failed job is not an error here: the
// caller judges the jobs.
func (e *env) resetOnTarget(path string, typ model.CredentialType) *resetOutput {
	e.t.Helper()
	out, err := e.passman("", "account", "reset", path, "--type", string(typ), "--generate",
		"--wait", "-o", "json")
	if err != nil && !strings.Contains(err.Error(), "job failed") {
		e.t.Fatal(err)
	}
	return parseResetOutput(e.t, out)
}

// resetByReconcile resets the password of an account whose current one
// PassMan does not know, which the target's reconcile account does, and
// returns the new password once the account is InSync.
func (e *env) resetByReconcile(path string) string {
	e.t.Helper()
	r := e.resetOnTarget(path, model.Password)
	j := r.last(e.t)
	if !r.started.Job.Reconcile || j.ID != r.started.Job.ID || j.State != model.JobSucceeded {
		e.t.Fatalf("reset = job %s %s %s %q reconcile %v, want job %s succeeded by reconcile",
			j.ID, j.State, j.Reason, j.Outcome, r.started.Job.Reconcile, r.started.Job.ID)
	}
	if a := e.waitSettled(path); a.Status != model.InSync {
		e.t.Errorf("after the reconcile the account is %s, want InSync", a.Status)
	}
	return e.checkout(path, model.Password)
}

// TestSSHCredentials changes passwords and SSH keys on a real sshd that
// only the agent's network namespace reaches, and proves every outcome by
// logging in from outside PassMan.
func TestSSHCredentials(t *testing.T) {
	requireRoot(t)
	lab := newSSHLab(t)
	e := newEnv(t, lab.serverConfig())

	// The reconcile account can run chpasswd as root through sudo without
	// a password; the other accounts change their own credentials.
	recon, reconPW := sshd.UserName(t), sshd.Password(t)
	sshd.CreateUser(t, recon, reconPW)
	sshd.AllowSudo(t, recon, sshd.SudoRule{NoPassword: true,
		Commands: []string{"/usr/sbin/chpasswd"}})
	if _, err := e.passman("", "folder", "create", "lab"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.passman("", sshTargetArgs(lab, "--reconcile-account", recon)...); err != nil {
		t.Fatal(err)
	}
	e.createSSHAccount(recon, model.Password, reconPW)
	ag := e.startAgent(e.enroll(sshZone), lab.ns)
	secrets := []string{reconPW}

	cases := []struct {
		name string
		typ  model.CredentialType
		// prepare creates the local user and returns its credential.
		prepare func(t *testing.T, user string) string
	}{
		{"password", model.Password, func(t *testing.T, user string) string {
			pw := sshd.Password(t)
			sshd.CreateUser(t, user, pw)
			return pw
		}},
		{"ssh key", model.SSHKey, func(t *testing.T, user string) string {
			sshd.CreateUser(t, user, sshd.Password(t))
			key, authorized := sshd.GenerateKey(t)
			sshd.AuthorizeKeys(t, user, authorized)
			return string(key)
		}},
	}
	for _, tc := range cases {
		t.Run("reset "+tc.name, func(t *testing.T) {
			e := e.on(t)
			user := sshd.UserName(t)
			old := tc.prepare(t, user)
			path := e.createSSHAccount(user, tc.typ, old)

			r := e.resetOnTarget(path, tc.typ)
			if j := r.last(t); j.ID != r.started.Job.ID || j.State != model.JobSucceeded {
				t.Fatalf("reset = job %s %s %s %q, want job %s succeeded",
					j.ID, j.State, j.Reason, j.Outcome, r.started.Job.ID)
			}
			if a := e.waitSettled(path); a.Status != model.InSync {
				t.Errorf("after the reset the account is %s, want InSync", a.Status)
			}
			v := e.checkout(path, tc.typ)
			secrets = append(secrets, old, v)
			if v == old {
				t.Fatal("the reset kept the old value")
			}
			lab.wantLogin(t, "the new "+tc.name, user, credentialAuth(t, tc.typ, v))
			lab.wantRefused(t, "the old "+tc.name, user, credentialAuth(t, tc.typ, old))
		})
	}

	t.Run("host key pinned", func(t *testing.T) {
		tg, err := e.c.ShowTarget(sshTarget)
		if err != nil {
			t.Fatal(err)
		}
		if tg.HostKey != lab.sshd.HostKey {
			t.Errorf("pinned host key %q, want the sshd's %q", tg.HostKey, lab.sshd.HostKey)
		}
	})

	t.Run("wrong stored current password", func(t *testing.T) {
		e := e.on(t)
		user, actual := sshd.UserName(t), sshd.Password(t)
		sshd.CreateUser(t, user, actual)
		path := e.createSSHAccount(user, model.Password, actual)
		secrets = append(secrets, actual, wrongPassword)
		wrongCurrent(t, e, lab, path, user, actual)
	})

	t.Run("reconcile an unknown password", func(t *testing.T) {
		e := e.on(t)
		user := sshd.UserName(t)
		sshd.CreateUser(t, user, sshd.Password(t))
		path := e.createSSHAccount(user, model.Password, "")

		v := e.resetByReconcile(path)
		secrets = append(secrets, v)
		lab.wantLogin(t, "the reconciled password", user, credentialAuth(t, model.Password, v))
	})

	t.Run("no secret in the logs", func(t *testing.T) {
		noSecretsIn(t, map[string]string{"server": e.srv.Logs.String(), "agent": ag.logs.String(),
			"sshd": lab.sshd.Logs()}, secrets)
	})
}

// wrongPassword is stored as an account's current password by mistake.
const wrongPassword = "Wrong-Passw0rd!zyxwvuts"

// wrongCurrent proves an account's actual password with a check, then
// stores wrongPassword as its current one in the database only and resets
// on the target: the change must fail, a check of every candidate must
// find none that works, every version must be kept and the target must
// keep the actual password.
func wrongCurrent(t *testing.T, e *env, lab *sshLab, path, user, actual string) {
	t.Helper()
	if _, err := e.passman("", "account", "check", path, "--wait"); err != nil {
		t.Fatal(err)
	}
	if a := e.snapshot(path); a.Status != model.InSync {
		t.Fatalf("after a check with the actual password the account is %s, want InSync",
			a.Status)
	}
	dbOnly := []string{"account", "reset", path, "--type", "password", "--value-stdin",
		"--no-change-on-target"}
	if _, err := e.passman(wrongPassword+"\n", dbOnly...); err == nil {
		t.Fatal("a database-only reset of an InSync account worked without --force")
	}
	if _, err := e.passman(wrongPassword+"\n", append(dbOnly, "--force")...); err != nil {
		t.Fatal(err)
	}
	if a := e.snapshot(path); a.Status != model.Unknown {
		t.Errorf("after a database-only reset the account is %s, want Unknown", a.Status)
	}

	r := e.resetOnTarget(path, model.Password)
	change := e.waitJob(r.started.Job.ID)
	if change.State != model.JobFailed || change.Reason != "auth_failed" {
		t.Errorf("change = %s %s %q, want failed auth_failed", change.State, change.Reason,
			change.Outcome)
	}
	resolve := r.last(t)
	if resolve.Kind != model.JobResolve || resolve.Resolves != change.ID ||
		resolve.State != model.JobFailed || resolve.Reason != "auth_failed" {
		t.Errorf("last job = %s of %q: %s %s %q, want a failed resolve of %s with auth_failed",
			resolve.Kind, resolve.Resolves, resolve.State, resolve.Reason, resolve.Outcome,
			change.ID)
	}
	cr := e.waitSettled(path).Credentials[0]
	if cr.Status != model.NotInSync || cr.Reason != "auth_failed" || cr.Pending != 0 {
		t.Errorf("credential = %s %s pending %d, want NotInSync auth_failed with nothing pending",
			cr.Status, cr.Reason, cr.Pending)
	}

	// The actual value, the wrong one and the generated one that never
	// reached the target are all kept.
	revs, err := e.c.Revisions(path, model.Password)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, rv := range revs.Revisions {
		seen[rv.N] = true
	}
	if len(revs.Revisions) != 3 || !seen[1] || !seen[2] || !seen[change.Version] {
		t.Errorf("revisions %+v, want versions 1, 2 and %d", revs.Revisions, change.Version)
	}
	lab.wantLogin(t, "the actual password", user, credentialAuth(t, model.Password, actual))
}

// TestSSHServerKilledAfterDispatch kills the server with SIGKILL right
// after it handed a reset to the agent, at different moments, and starts
// it again: each time, once the jobs end, the password PassMan calls
// current must be the one the target accepts, and the account InSync.
func TestSSHServerKilledAfterDispatch(t *testing.T) {
	requireRoot(t)
	lab := newSSHLab(t)
	p := startServerProc(t, lab.link.HostAddr.String())
	e := p.env(t)

	user, pw := sshd.UserName(t), sshd.Password(t)
	sshd.CreateUser(t, user, pw)
	path := sshTarget + "/" + user
	for _, args := range [][]string{
		{"folder", "create", "lab"},
		sshTargetArgs(lab),
		{"account", "create", path, "--credential", "password", "--value-stdin"},
	} {
		if _, err := p.passman(pw+"\n", args...); err != nil {
			t.Fatal(err)
		}
	}
	ag := e.startAgent(p.enroll(t, sshZone), lab.ns)
	secrets := []string{pw, p.vaultKey, p.token}

	for i := range 3 {
		r, err := p.c.Reset(&api.ResetRequest{Path: path, Type: model.Password, Generate: true})
		if err != nil {
			t.Fatal(err)
		}
		// The kill is meant to land at a random moment of the job: no
		// poll would serve here.
		delay := rand.N(300 * time.Millisecond)
		time.Sleep(delay)
		before := "unknown" // for the log: which window the kill hit
		if j, err := p.c.ShowJob(r.Job.ID); err == nil {
			before = string(j.State)
		}
		p.restart(t)
		p.openVault(t)

		j := e.waitJob(r.Job.ID)
		a := e.waitSettled(path)
		t.Logf("kill %d after %v, job %s: job %s %s %q; account %s %s", i,
			delay.Round(time.Millisecond), before, j.State, j.Reason, j.Outcome, a.Status,
			a.Credentials[0].Reason)
		if a.Status != model.InSync {
			t.Errorf("kill %d: the account is %s %s, want InSync", i, a.Status,
				a.Credentials[0].Reason)
		}
		v := e.checkout(path, model.Password)
		secrets = append(secrets, v)
		lab.wantLogin(t, "the current password", user, credentialAuth(t, model.Password, v))
	}
	noSecretsIn(t, map[string]string{"server": p.logs.String(), "agent": ag.logs.String(),
		"sshd": lab.sshd.Logs()}, secrets)
}
