package postgres_test

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/testtarget/postgres"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root to run postgres as the postgres user")
	}
	t.Fatal("needs root to run postgres as the postgres user")
}

func TestServer(t *testing.T) {
	requireRoot(t)
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "tls"}[tls]
		t.Run(name, func(t *testing.T) {
			srv := postgres.StartWith(t, postgres.Options{TLS: tls})
			role, pw := postgres.RoleName(t), postgres.Password(t)
			locked := postgres.RoleName(t)
			srv.CreateRole(t, role, pw)
			srv.CreateRole(t, locked, pw, "NOLOGIN")

			if err := srv.CanLogin(t, role, pw); err != nil {
				t.Errorf("logging in with the right password: %v", err)
			}
			if err := srv.CanLogin(t, role, pw+"x"); err == nil {
				t.Error("logging in with a wrong password worked")
			}
			if err := srv.CanLogin(t, locked, pw); err == nil {
				t.Error("a NOLOGIN role logged in")
			}
			next := postgres.Password(t)
			srv.SetPassword(t, role, next)
			if err := srv.CanLoginPsql(t, role, next); err != nil {
				t.Errorf("logging in through psql with the password set: %v", err)
			}
			if tls != (srv.CACert != "") {
				t.Errorf("CACert = %q with TLS %v", srv.CACert, tls)
			}
			logs := srv.Logs()
			if !strings.Contains(logs, "SELECT 1") {
				t.Errorf("the server does not log statements:\n%s", logs)
			}
			if tls != strings.Contains(logs, "SSL enabled") {
				t.Errorf("with TLS %v, the logins are not as encrypted:\n%s", tls, logs)
			}
			for _, secret := range []string{pw, next, srv.SuperPassword} {
				if strings.Contains(logs, secret) {
					t.Errorf("a password appears in the server's log")
				}
			}

			srv.Stop()
			if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Stop", srv.Addr)
			}
		})
	}
}
