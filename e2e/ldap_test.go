package e2e

import (
	"testing"

	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/slapd"
	"github.com/passman-dev/passman/server/model"
)

// ldapTarget is the PassMan path of the directory.
const ldapTarget = "dir/ldap"

// TestLDAPCredentials changes directory passwords on a real slapd through
// the CLI, a real agent and the ldap driver, by the account itself and by
// the reconcile account, and proves each outcome with binds from outside
// PassMan.
func TestLDAPCredentials(t *testing.T) {
	srv := slapd.Start(t, slapd.Options{})
	e := newEnv(t, testserver.Config{})
	ag := e.startAgent(e.enroll("ldap"), nil)
	secrets := []string{srv.AdminPassword, srv.RootPassword}

	// The agent has reported its drivers, so the server checks the
	// parameters against the ldap driver's. The test's slapd only speaks
	// plain LDAP on the loopback, hence tls=none.
	for _, args := range [][]string{
		{"folder", "create", "dir"},
		{"target", "create", ldapTarget, "--type", "ldap", "--address", srv.Addr, "--zone", "ldap",
			"--param", "user_dn_template=" + slapd.PeopleTemplate,
			"--param", "reconcile_dn_template=" + slapd.ServiceTemplate,
			"--param", "tls=none", "--param", "connect_timeout=5s",
			"--reconcile-account", slapd.AdminName},
		{"account", "create", ldapTarget + "/" + slapd.AdminName, "--credential", "password",
			"--value-stdin"},
	} {
		if _, err := e.passman(srv.AdminPassword+"\n", args...); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name, uid string
		// known says whether PassMan is told the account's password; when
		// it is not, the reset goes through the reconcile account.
		known bool
	}{
		{"own password", "alice", true},
		{"reconcile an unknown password", "bob", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.on(t)
			uid, old := tc.uid, slapd.Password(t)
			srv.AddUser(t, uid, old)
			value := ""
			if tc.known {
				value = old
			}
			path := e.createLDAPAccount(uid, value)

			r := e.resetOnTarget(path, model.Password)
			j := r.last(t)
			if j.ID != r.started.Job.ID || j.State != model.JobSucceeded ||
				r.started.Job.Reconcile == tc.known {
				t.Fatalf("reset = job %s %s %s %q reconcile %v, want job %s succeeded",
					j.ID, j.State, j.Reason, j.Outcome, r.started.Job.Reconcile, r.started.Job.ID)
			}
			if a := e.waitSettled(path); a.Status != model.InSync {
				t.Errorf("after the reset the account is %s, want InSync", a.Status)
			}
			v := e.checkout(path, model.Password)
			secrets = append(secrets, old, v)
			if err := srv.Bind(t, slapd.DN(uid), v); err != nil {
				t.Errorf("binding with the checked-out password: %v", err)
			}
			if err := srv.Bind(t, slapd.DN(uid), old); err == nil {
				t.Error("binding with the old password still works")
			}

			if _, err := e.passman("", "account", "check", path, "--wait"); err != nil {
				t.Fatal(err)
			}
			if a := e.waitSettled(path); a.Status != model.InSync {
				t.Errorf("after a check the account is %s, want InSync", a.Status)
			}
		})
	}

	t.Run("no secret in the logs", func(t *testing.T) {
		noSecretsIn(t, map[string]string{"server": e.srv.Logs.String(),
			"agent": ag.logs.String(), "slapd": srv.Logs()}, secrets)
	})
}

// createLDAPAccount creates the account of a directory entry on the
// target with value as its password, or with no value when value is "".
func (e *env) createLDAPAccount(uid, value string) string {
	e.t.Helper()
	path := ldapTarget + "/" + uid
	args := []string{"account", "create", path, "--credential", "password"}
	if value != "" {
		args = append(args, "--value-stdin")
		value += "\n"
	}
	if _, err := e.passman(value, args...); err != nil {
		e.t.Fatal(err)
	}
	return path
}
