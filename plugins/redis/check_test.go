package redis_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/netx"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	driver "github.com/passman-dev/passman/plugins/redis"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := driver.New().Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range d.Params {
		names = append(names, p.Name)
		if p.Required {
			t.Errorf("parameter %s is required; all have defaults", p.Name)
		}
	}
	slices.Sort(names)
	got := []any{d.Name, d.CredentialTypes, names, d.Reconcile}
	want := []any{"redis", []string{sdk.Password},
		[]string{"connect_timeout", "db", "persist", "tls", "tls_ca"}, true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	name, pw := f.user(t, "+ping")
	bare, barePW := f.user(t)
	off, offPW := f.user(t, "off")
	selector, selectorPW := f.user(t, "+select")

	tests := []struct {
		name    string
		account string
		cred    sdk.Credential
		params  map[string]string
		want    sdk.Reason
	}{
		{"right password", name, drivertest.Password(pw), nil, ""},
		{"wrong password", name, drivertest.Password(pw + "x"), nil, sdk.ReasonAuthFailed},
		{"unknown user", "nobody", drivertest.Password(pw), nil, sdk.ReasonAuthFailed},
		{"disabled user", off, drivertest.Password(offPW), nil, sdk.ReasonAuthFailed},
		{"user without PING", bare, drivertest.Password(barePW), nil, ""},
		{"database 1", selector, drivertest.Password(selectorPW), map[string]string{"db": "1"}, ""},
		{"no SELECT", name, drivertest.Password(pw), map[string]string{"db": "1"},
			sdk.ReasonInvalidParams},
		{"no such database", selector, drivertest.Password(selectorPW), map[string]string{"db": "999"},
			sdk.ReasonInvalidParams},
		{"pin", name, sdk.Credential{Type: sdk.PIN, Value: sdk.NewSecret([]byte("1234"))}, nil,
			sdk.ReasonUnsupported},
		{"empty", name, drivertest.Password(""), nil, sdk.ReasonInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.drv.Check(t.Context(), &sdk.CheckRequest{
				JobID: "job-1", Target: f.target(tt.params), Account: tt.account,
				Credential: tt.cred,
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Check: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestNetwork runs the SDK's checks of a target that does not answer: a
// closed port, an unknown host and a listener that never says anything.
func TestNetwork(t *testing.T) {
	t.Parallel()
	sdktest.Network(t, driver.New(), sdk.Target{}, "nobody")
}

func TestInvalidRequests(t *testing.T) {
	valid := func() *sdk.ChangeRequest {
		return &sdk.ChangeRequest{
			Target:  sdk.Target{Address: netx.ClosedPort(t)},
			Account: "alice",
			Type:    sdk.Password,
			Current: sdk.NewSecret([]byte("old-Password-1")),
			New:     sdk.NewSecret([]byte("new-Password-2")),
		}
	}
	invalid := sdk.ReasonInvalidParams
	tests := []struct {
		name   string
		change func(*sdk.ChangeRequest)
		want   sdk.Reason
	}{
		{"valid, nothing listens", func(*sdk.ChangeRequest) {}, sdk.ReasonUnreachable},
		{"no address", func(r *sdk.ChangeRequest) { r.Target.Address = "" }, invalid},
		{"space in address", func(r *sdk.ChangeRequest) { r.Target.Address = "a b:6379" }, invalid},
		{"unknown parameter", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"port": "6379"}
		}, invalid},
		{"bad tls", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"tls": "maybe"}
		}, invalid},
		{"bad timeout", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"connect_timeout": "-1s"}
		}, invalid},
		{"bad db", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"db": "-1"}
		}, invalid},
		{"bad tls_ca", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"tls": "true", "tls_ca": "not PEM"}
		}, invalid},
		{"tls_ca without tls", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"tls_ca": redis.NewCertificate(t)}
		}, invalid},
		{"bad persist", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"persist": "bgsave"}
		}, invalid},
		{"space in account", func(r *sdk.ChangeRequest) { r.Account = "a b" }, invalid},
		{"control in account", func(r *sdk.ChangeRequest) { r.Account = "a\x00" }, invalid},
		{"empty account", func(r *sdk.ChangeRequest) { r.Account = "" }, invalid},
		{"empty new", func(r *sdk.ChangeRequest) { r.New = sdk.Secret{} }, invalid},
		{"same value", func(r *sdk.ChangeRequest) { r.New = r.Current }, invalid},
		{"no current", func(r *sdk.ChangeRequest) { r.Current = sdk.Secret{} }, invalid},
		{"ssh key", func(r *sdk.ChangeRequest) { r.Type = sdk.SSHKey }, sdk.ReasonUnsupported},
		{"bad reconcile account", func(r *sdk.ChangeRequest) {
			r.Reconcile = login("ad min", "x")
		}, invalid},
		{"reconcile with a key", func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: "admin",
				Credential: sdk.Credential{Type: sdk.SSHKey, Value: sdk.NewSecret([]byte("k"))}}
		}, sdk.ReasonUnsupported},
		{"empty reconcile password", func(r *sdk.ChangeRequest) {
			r.Reconcile = login("admin", "")
		}, invalid},
		{"reconcile without current", func(r *sdk.ChangeRequest) {
			r.Current, r.Reconcile = sdk.Secret{}, login("admin", "x")
		}, sdk.ReasonUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.change(req)
			_, err := driver.New().Change(t.Context(), req)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
