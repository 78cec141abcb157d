package redis

import (
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/testtarget/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestSetUserErrorRedacts has a real server refuse an ACL SETUSER rule
// that holds a password, which Redis quotes in its answer, and checks
// that the driver's error does not.
func TestSetUserErrorRedacts(t *testing.T) {
	t.Parallel()
	srv := redis.Start(t)
	cfg := &config{addr: srv.Addr, connectTimeout: defaultConnectTimeout}
	s, err := open(t.Context(), cfg, redis.AdminUser, sdk.NewSecret([]byte(srv.AdminPassword)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()

	pw := redis.Password(t)
	refused := s.setUser(t.Context(), redis.AdminUser, "<"+pw)
	if refused == nil {
		t.Fatal("removing a password the user does not have worked")
	}
	quoted := strings.Contains(refused.Error(), pw)
	if !quoted {
		t.Logf("the server no longer quotes the rule: %v", refused)
	}
	got := setUserError(t.Context(), refused, true, sdk.NewSecret([]byte(pw)))
	if strings.Contains(got.Error(), pw) {
		t.Errorf("the driver's error holds the password: %v", got)
	}
	if quoted && !strings.Contains(got.Error(), "[redacted]") {
		t.Errorf("the driver's error does not quote the server: %v", got)
	}
}
