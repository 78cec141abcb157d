package redis_test

import (
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/testtarget/redis"
)

func TestServer(t *testing.T) {
	t.Parallel()
	srv := redis.Start(t)
	name, pw := redis.UserName(t), redis.Password(t)
	srv.CreateUser(t, name, pw, "+ping")
	mon := srv.Monitor(t)

	tests := []struct {
		name     string
		user, pw string
		ok       bool
	}{
		{"admin", redis.AdminUser, srv.AdminPassword, true},
		{"new user", name, pw, true},
		{"wrong password", name, pw + "x", false},
		{"default user is off", "default", "", false},
		{"unknown user", "nobody", pw, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := srv.CanAuth(t, tt.user, tt.pw)
			if (err == nil) != tt.ok {
				t.Errorf("CanAuth(%s) = %v, want success %v", tt.user, err, tt.ok)
			}
		})
	}

	if n := srv.Passwords(t, name); n != 1 {
		t.Errorf("the new user has %d passwords, want 1", n)
	}
	srv.SetUser(t, name, ">"+pw+"2")
	if n := srv.Passwords(t, name); n != 2 {
		t.Errorf("after adding one the user has %d passwords, want 2", n)
	}
	if got := mon.Flush(t); !strings.Contains(strings.ToUpper(got), `"AUTH"`) {
		t.Errorf("the monitor saw no AUTH:\n%s", got)
	}
	if got := srv.SlowLog(t); !strings.Contains(got, "GETUSER") {
		t.Errorf("the slow log holds no ACL GETUSER:\n%s", got)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	srv := redis.Start(t)
	srv.Stop()
	if err := srv.CanAuth(t, redis.AdminUser, srv.AdminPassword); err == nil {
		t.Error("logging in after Stop worked")
	}
	srv.Stop()
}

// TestRestart checks that a restart keeps the users saved to the file the
// server loads them from, and only those.
func TestRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts redis.Options
		save []string
	}{
		{"users in the configuration", redis.Options{}, []string{"CONFIG", "REWRITE"}},
		{"users in an ACL file", redis.Options{ACLFile: true}, []string{"ACL", "SAVE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redis.StartWith(t, tt.opts)
			saved, savedPW := redis.UserName(t), redis.Password(t)
			srv.CreateUser(t, saved, savedPW)
			srv.Run(t, tt.save...)
			lost, lostPW := redis.UserName(t), redis.Password(t)
			srv.CreateUser(t, lost, lostPW)

			srv.Restart(t)
			if err := srv.CanAuth(t, saved, savedPW); err != nil {
				t.Errorf("after the restart, the saved user cannot log in: %v", err)
			}
			if srv.HasUser(t, lost) {
				t.Error("after the restart, the server has a user that was never saved")
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := redis.StartWith(t, redis.Options{TLS: true})
	mon := srv.Monitor(t)
	if err := srv.CanAuth(t, redis.AdminUser, srv.AdminPassword); err != nil {
		t.Errorf("logging in over TLS: %v", err)
	}
	if got := mon.Flush(t); !strings.Contains(strings.ToUpper(got), `"AUTH"`) {
		t.Errorf("the monitor saw no AUTH:\n%s", got)
	}
	if !strings.Contains(srv.CACert, "BEGIN CERTIFICATE") {
		t.Errorf("CACert is not a PEM certificate: %q", srv.CACert)
	}
}
