package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// UserName returns a fresh ACL user name for one test: "pmt" and 12 hex
// digits.
func UserName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return "pmt" + hex.EncodeToString(b)
}

// Password returns a random password of 20 characters mixing letters,
// digits and symbols.
func Password(t testing.TB) string {
	t.Helper()
	return "Rd-" + rand.Text()[:13] + "x9.z"
}

// CreateUser creates the ACL user name, or resets it when it exists, as
// enabled, with password as its only password and rules, in ACL SETUSER's
// syntax, as its permissions. Without rules the user may log in and do
// nothing else.
func (s *Server) CreateUser(t testing.TB, name, password string, rules ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">" + password}
	for _, r := range rules {
		args = append(args, r)
	}
	if _, err := s.admin(t, args...); err != nil {
		t.Fatalf("creating ACL user %s: %v", name, err)
	}
}

// SetUser applies rules, in ACL SETUSER's syntax, to the ACL user name.
func (s *Server) SetUser(t testing.TB, name string, rules ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name}
	for _, r := range rules {
		args = append(args, r)
	}
	if _, err := s.admin(t, args...); err != nil {
		t.Fatalf("changing ACL user %s: %v", name, err)
	}
}

// CanAuth logs in to the server as user with password by sending AUTH on
// a connection of its own, and returns the server's answer: nil when it
// accepted the password.
func (s *Server) CanAuth(t testing.TB, user, password string) error {
	t.Helper()
	c := s.client("", "")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn := c.Conn()
	defer conn.Close()
	return conn.AuthACL(ctx, user, password).Err()
}

// HasUser reports whether the server has an ACL user name.
func (s *Server) HasUser(t testing.TB, name string) bool {
	t.Helper()
	v, err := s.admin(t, "ACL", "GETUSER", name)
	if err != nil && !errors.Is(err, goredis.Nil) {
		t.Fatalf("reading ACL user %s: %v", name, err)
	}
	return v != nil
}

// Passwords returns how many passwords the ACL user name has.
func (s *Server) Passwords(t testing.TB, name string) int {
	t.Helper()
	v, err := s.admin(t, "ACL", "GETUSER", name)
	if err != nil {
		t.Fatalf("reading ACL user %s: %v", name, err)
	}
	hashes, ok := field(v, "passwords").([]any)
	if !ok {
		t.Fatalf("ACL GETUSER %s: no list of passwords in %v", name, v)
	}
	return len(hashes)
}

// SlowLog returns every command the server's slow log holds, one a line,
// each as its arguments separated by spaces. The server logs every
// command there, with the arguments it does not redact.
func (s *Server) SlowLog(t testing.TB) string {
	t.Helper()
	v, err := s.admin(t, "SLOWLOG", "GET", -1)
	if err != nil {
		t.Fatalf("reading the slow log: %v", err)
	}
	entries, _ := v.([]any)
	var b strings.Builder
	for _, e := range entries {
		// An entry is id, time, duration, arguments, client address and
		// client name.
		if parts, ok := e.([]any); ok && len(parts) > 3 {
			args, _ := parts[3].([]any)
			for _, a := range args {
				fmt.Fprintf(&b, "%v ", a)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Run runs a command as AdminUser, fails the test when the server refuses
// it and returns the reply.
func (s *Server) Run(t testing.TB, args ...string) any {
	t.Helper()
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	v, err := s.admin(t, cmd...)
	if err != nil {
		t.Fatalf("running %s: %v", args[0], err)
	}
	return v
}

// admin runs one command as AdminUser and returns the server's reply.
// It works in cleanup functions too, after the test's context is done.
func (s *Server) admin(t testing.TB, args ...any) (any, error) {
	t.Helper()
	c := s.client(AdminUser, s.AdminPassword)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// field returns the value of key in a reply that is a map (RESP3) or a
// flat list of keys and values (RESP2), or nil.
func field(reply any, key string) any {
	switch r := reply.(type) {
	case map[any]any:
		return r[key]
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			if k, ok := r[i].(string); ok && k == key {
				return r[i+1]
			}
		}
	}
	return nil
}
