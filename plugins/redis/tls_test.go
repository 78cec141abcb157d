package redis_test

import (
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestTLS checks and changes passwords on a server that serves TLS only,
// with a certificate of its own CA.
func TestTLS(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, redis.Options{TLS: true})
	name, pw := f.user(t, "+ping")
	trusted := map[string]string{"tls": "true", "tls_ca": f.srv.CACert}

	tests := []struct {
		name   string
		params map[string]string
		want   sdk.Reason
		// says is what the error message must hold.
		says string
	}{
		{"trusted CA", trusted, "", ""},
		{"system roots", map[string]string{"tls": "true"}, sdk.ReasonFailed, "certificate"},
		{"another CA", map[string]string{"tls": "true", "tls_ca": redis.NewCertificate(t)},
			sdk.ReasonFailed, "certificate"},
		{"no TLS", nil, sdk.ReasonFailed, "check tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{
				JobID: "job-tls", Target: f.target(tt.params), Account: name,
				Credential: drivertest.Password(pw),
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want || err != nil &&
				!strings.Contains(err.Error(), tt.says) {
				t.Errorf("Check: %v, want reason %q saying %q", err, tt.want, tt.says)
			}
		})
	}

	t.Run("reconcile", func(t *testing.T) {
		t.Parallel()
		account, _ := f.user(t, "+ping")
		rec, recPW := f.user(t, "+acl|getuser", "+acl|setuser")
		next := f.newPassword(t)
		_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
			JobID: "job-tls", Target: f.target(trusted), Account: account, Type: sdk.Password,
			New: sdk.NewSecret([]byte(next)), Reconcile: login(rec, recPW),
		})
		if err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantAuth(t, "the new password", account, next)
	})
}
