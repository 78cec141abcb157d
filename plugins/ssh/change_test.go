package ssh_test

import (
	"cmp"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
)

// changePassword asks the fixture's driver to change account's password
// from current to next, logging in as the account itself.
func (f *fixture) changePassword(t *testing.T, account, current, next string) error {
	t.Helper()
	_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
		JobID:   "job-change",
		Target:  f.target(nil),
		Account: account,
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(current)),
		New:     sdk.NewSecret([]byte(next)),
	})
	f.secrets.CheckError(t, err)
	return err
}

// wantLogins checks, with the driver and outside it, which passwords the
// server accepts for account. The logins run at once, since each refused
// one costs the server's failure delay.
func (f *fixture) wantLogins(t *testing.T, account string, works, fails []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, pw := range works {
		wg.Go(func() {
			if err := f.check(t, account, drivertest.Password(pw)); err != nil {
				t.Errorf("driver login with a password that should work: %v", err)
			}
		})
		wg.Go(func() {
			if err := plainLogin(f.srv.Addr, account, plainPassword(pw)); err != nil {
				t.Errorf("plain login with a password that should work: %v", err)
			}
		})
	}
	for _, pw := range fails {
		wg.Go(func() {
			var e *sdk.Error
			err := f.check(t, account, drivertest.Password(pw))
			if !errors.As(err, &e) || e.Reason != sdk.ReasonAuthFailed {
				t.Errorf("driver login with a password that should fail: %v", err)
			}
		})
		wg.Go(func() {
			if err := plainLogin(f.srv.Addr, account, plainPassword(pw)); err == nil {
				t.Errorf("plain login with a password that should fail succeeded")
			}
		})
	}
	wg.Wait()
}

func TestChangePasswordSelf(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	tests := []struct {
		name  string
		wrong bool   // log in with a wrong current password
		next  string // the new password, when not a random one
		want  sdk.Reason
	}{
		{name: "changed"},
		{name: "quotes and colons", next: `Q'u"o$t\e d:1;x` + "`id`"},
		{name: "wrong current", wrong: true, want: sdk.ReasonAuthFailed},
		{name: "too short", next: "Ab1.", want: sdk.ReasonRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, old := f.user(t)
			next := tt.next
			if next == "" {
				next = sshd.Password(t)
			}
			current := old
			if tt.wrong {
				current = sshd.Password(t)
			}
			f.secrets.Add(next, current)

			err := f.changePassword(t, name, current, next)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Fatalf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == "" {
				f.wantLogins(t, name, []string{next}, []string{old})
			} else {
				f.wantLogins(t, name, []string{old}, []string{next})
			}
		})
	}
}

func TestReconcilePassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	chpasswd := []string{"/usr/sbin/chpasswd"}
	tests := []struct {
		name     string
		rule     sshd.SudoRule
		withKey  bool   // the reconcile account logs in with a key
		next     string // the new password, when not a random one
		wantFail sdk.Reason
	}{
		{name: "sudo without password", rule: sshd.SudoRule{NoPassword: true, Commands: chpasswd}},
		{name: "quotes and colons", rule: sshd.SudoRule{Commands: chpasswd},
			next: `root:x'"$HOME \ :` + "`id`"},
		{name: "sudo with password", rule: sshd.SudoRule{Commands: chpasswd}},
		{name: "key login", withKey: true,
			rule: sshd.SudoRule{NoPassword: true, Commands: chpasswd}},
		{name: "key login, sudo wants password", withKey: true,
			rule: sshd.SudoRule{Commands: chpasswd}, wantFail: sdk.ReasonFailed},
		{name: "no sudo rule", wantFail: sdk.ReasonFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Nobody knows the account's password: it is discarded.
			account, _ := f.user(t)
			rec, recPassword := f.user(t)
			if tt.rule.Commands != nil {
				sshd.AllowSudo(t, rec, tt.rule)
			}
			recCred := drivertest.Password(recPassword)
			if tt.withKey {
				key, line := f.key(t)
				sshd.AuthorizeKeys(t, rec, line)
				recCred = sshKey(key)
			}
			next := cmp.Or(tt.next, sshd.Password(t))
			f.secrets.Add(next)

			_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
				JobID:     "job-reconcile",
				Target:    f.target(nil),
				Account:   account,
				Type:      sdk.Password,
				New:       sdk.NewSecret([]byte(next)),
				Reconcile: &sdk.Login{Account: rec, Credential: recCred},
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.wantFail {
				t.Fatalf("Change: reason %q (%v), want %q", got, err, tt.wantFail)
			}
			if tt.wantFail == "" {
				f.wantLogins(t, account, []string{next}, nil)
			} else {
				f.wantLogins(t, account, nil, []string{next})
			}
		})
	}
}

// TestChangePasswordCommand runs passwd_command values that never show
// passwd's prompts.
func TestChangePasswordCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	name, pw := f.user(t)
	tests := []struct {
		command string
		want    sdk.Reason
	}{
		{"sleep 60", sdk.ReasonTimeout},
		{"false", sdk.ReasonFailed},
		{"true", sdk.ReasonFailed},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			t.Parallel()
			next := sshd.Password(t)
			f.secrets.Add(next)
			_, err := f.drv.Change(drivertest.Context(t, 2*time.Second), &sdk.ChangeRequest{
				Target:  f.target(map[string]string{"passwd_command": tt.command}),
				Account: name,
				Type:    sdk.Password,
				Current: sdk.NewSecret([]byte(pw)),
				New:     sdk.NewSecret([]byte(next)),
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestReconcileAsRoot changes a password and a key with root as the
// reconcile account and the root method: chpasswd and su run directly.
func TestReconcileAsRoot(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	rootPEM, rootLine := sshd.GenerateKey(t)
	f := newFixture(t, sshd.Options{RootKeys: []string{rootLine}})
	f.secrets.Add(string(rootPEM))
	root := &sdk.Login{Account: "root", Credential: sshKey(rootPEM)}
	params := map[string]string{"reconcile_method": "root"}

	t.Run("password", func(t *testing.T) {
		t.Parallel()
		account, _ := f.user(t)
		next := sshd.Password(t)
		f.secrets.Add(next)
		_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
			Target: f.target(params), Account: account, Type: sdk.Password,
			New: sdk.NewSecret([]byte(next)), Reconcile: root,
		})
		if err != nil {
			t.Fatalf("Change: %v", err)
		}
		f.wantLogins(t, account, []string{next}, nil)
	})
	t.Run("ssh-key", func(t *testing.T) {
		t.Parallel()
		a := f.keyAccount(t, false)
		nextPEM, nextLine := f.key(t)
		_, err := f.drv.Change(t.Context(), &sdk.ChangeRequest{
			Target: f.target(params), Account: a.name, Type: sdk.SSHKey,
			Current: sdk.NewSecret(a.currentPEM), New: sdk.NewSecret(nextPEM), Reconcile: root,
		})
		if err != nil {
			t.Fatalf("Change: %v", err)
		}
		want := []string{a.others[0], managedMarker, nextLine, a.others[1]}
		f.wantKeys(t, a, [][]byte{nextPEM}, [][]byte{a.currentPEM}, want)
	})
}
