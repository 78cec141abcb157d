package ldap_test

import (
	"testing"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/netx"
	"github.com/passman-dev/passman/internal/testtarget/slapd"
	"github.com/passman-dev/passman/plugins/sdk"
)

// TestChangeSelf changes accounts' passwords as the accounts themselves
// and proves the outcome with binds from outside the driver.
func TestChangeSelf(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	for name, uid := range map[string]string{"plain": "alice", "escaped": `o'neil, "jr"+1`} {
		t.Run(name, func(t *testing.T) {
			old, pw := f.user(t, uid), slapd.Password(t)
			f.secrets.Add(pw)
			err := f.change(t, &sdk.ChangeRequest{Account: uid, Type: sdk.Password,
				Current: secret(old), New: secret(pw)})
			if err != nil {
				t.Fatalf("Change: %v", err)
			}
			f.wantBind(t, "the new password", uid, pw, true)
			f.wantBind(t, "the old password", uid, old, false)
			if err := f.check(t, uid, pw, nil); err != nil {
				t.Errorf("Check with the new password: %v", err)
			}
		})
	}
}

// TestChangeReconcile changes the password of an account whose password
// nobody knows, as the reconcile account.
func TestChangeReconcile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	old, pw := f.user(t, "alice"), slapd.Password(t)
	f.secrets.Add(pw)
	err := f.change(t, &sdk.ChangeRequest{Account: "alice", Type: sdk.Password,
		New: secret(pw), Reconcile: f.admin()})
	if err != nil {
		t.Fatalf("Change: %v", err)
	}
	f.wantBind(t, "the new password", "alice", pw, true)
	f.wantBind(t, "the old password", "alice", old, false)
}

// TestChangeRefused checks the changes the directory refuses: each must
// leave the account's password as it was.
func TestChangeRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{Policy: &slapd.Policy{MinLength: 24}})
	bobPW := f.user(t, "bob")
	long := "a password long enough for the policy"
	f.secrets.Add(long)

	tests := []struct {
		name string
		req  func(current string) *sdk.ChangeRequest
		want sdk.Reason
	}{
		{"wrong current password", func(string) *sdk.ChangeRequest {
			return &sdk.ChangeRequest{Current: secret(bobPW + "x"), New: secret(long)}
		}, sdk.ReasonAuthFailed},
		{"reconcile account's wrong password", func(string) *sdk.ChangeRequest {
			return &sdk.ChangeRequest{New: secret(long), Reconcile: &sdk.Login{
				Account: slapd.AdminName, Credential: drivertest.Password(bobPW)}}
		}, sdk.ReasonAuthFailed},
		{"reconcile account without the right", func(string) *sdk.ChangeRequest {
			r := &sdk.ChangeRequest{New: secret(long), Reconcile: &sdk.Login{
				Account: "bob", Credential: drivertest.Password(bobPW)}}
			r.Target = f.target(map[string]string{"reconcile_dn_template": slapd.PeopleTemplate})
			return r
		}, sdk.ReasonRejected},
		{"too short for the policy", func(current string) *sdk.ChangeRequest {
			return &sdk.ChangeRequest{Current: secret(current), New: secret("Short-1x")}
		}, sdk.ReasonRejected},
		{"reconcile, too short for the policy", func(string) *sdk.ChangeRequest {
			return &sdk.ChangeRequest{New: secret("Short-1x"), Reconcile: f.admin()}
		}, sdk.ReasonRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := "u" + slapd.Password(t)[3:12]
			current := f.user(t, uid)
			req := tt.req(current)
			req.Account, req.Type = uid, sdk.Password
			err := f.change(t, req)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
			f.wantBind(t, "the unchanged password", uid, current, true)
			f.wantBind(t, "the refused password", uid, string(req.New.Reveal()), false)
		})
	}
}

// TestChangeInvalid checks requests the driver refuses before it
// connects: the target's address is a closed port, so a request that
// got through would fail as unreachable instead.
func TestChangeInvalid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, slapd.Options{})
	target := f.target(nil)
	target.Address = netx.ClosedPort(t)
	valid := func() *sdk.ChangeRequest {
		return &sdk.ChangeRequest{Target: target, Account: "alice", Type: sdk.Password,
			Current: secret("current password"), New: secret("new password")}
	}
	tests := []struct {
		name   string
		modify func(*sdk.ChangeRequest)
		want   sdk.Reason
	}{
		{"valid", func(*sdk.ChangeRequest) {}, sdk.ReasonUnreachable},
		{"ssh key", func(r *sdk.ChangeRequest) { r.Type = sdk.SSHKey }, sdk.ReasonUnsupported},
		{"pin", func(r *sdk.ChangeRequest) { r.Type = sdk.PIN }, sdk.ReasonUnsupported},
		{"empty new", func(r *sdk.ChangeRequest) { r.New = secret("") },
			sdk.ReasonInvalidParams},
		{"new is current", func(r *sdk.ChangeRequest) { r.New = r.Current },
			sdk.ReasonInvalidParams},
		{"no current", func(r *sdk.ChangeRequest) { r.Current = secret("") },
			sdk.ReasonInvalidParams},
		{"bad account", func(r *sdk.ChangeRequest) { r.Account = "alice\r\n" },
			sdk.ReasonInvalidParams},
		{"bad reconcile account", func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: "\tadmin", Credential: drivertest.Password("x")}
		}, sdk.ReasonInvalidParams},
		{"reconcile with a key", func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: slapd.AdminName,
				Credential: sdk.Credential{Type: sdk.SSHKey, Value: secret("x")}}
		}, sdk.ReasonUnsupported},
		{"reconcile without a password", func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: slapd.AdminName, Credential: drivertest.Password("")}
		}, sdk.ReasonInvalidParams},
		{"valid reconcile", func(r *sdk.ChangeRequest) {
			r.Current, r.Reconcile = secret(""), f.admin()
		}, sdk.ReasonUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.modify(req)
			err := f.change(t, req)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
