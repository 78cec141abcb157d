package ssh_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/testtarget/netns"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
	"github.com/passman-dev/passman/plugins/ssh"
)

func TestDescribe(t *testing.T) {
	d, err := ssh.New().Describe(t.Context())
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
	want := []any{"ssh", []string{sdk.Password, sdk.SSHKey},
		[]string{"connect_timeout", "passwd_command", "reconcile_method"}, true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{})
	name, pw := f.user(t)
	keyPEM, keyLine := f.key(t)
	sshd.AuthorizeKeys(t, name, keyLine)
	otherKey, _ := f.key(t)
	_, otherHostKey := sshd.GenerateKey(t)

	tests := []struct {
		name    string
		hostKey string
		cred    sdk.Credential
		want    sdk.Reason
	}{
		{"right password", f.srv.HostKey, drivertest.Password(pw), ""},
		{"wrong password", f.srv.HostKey, drivertest.Password(pw + "x"), sdk.ReasonAuthFailed},
		{"right key", f.srv.HostKey, sshKey(keyPEM), ""},
		{"unknown key", f.srv.HostKey, sshKey(otherKey), sdk.ReasonAuthFailed},
		{"not a key", f.srv.HostKey, sshKey([]byte(pw)), sdk.ReasonInvalidParams},
		{"unpinned", "", drivertest.Password(pw), ""},
		{"other host key pinned", otherHostKey, drivertest.Password(pw), sdk.ReasonHostKeyMismatch},
		{"pin", f.srv.HostKey, sdk.Credential{Type: sdk.PIN}, sdk.ReasonUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := f.target(nil)
			target.HostKey = tt.hostKey
			res, err := f.drv.Check(t.Context(), &sdk.CheckRequest{
				JobID: "job-1", Target: target, Account: name, Credential: tt.cred,
			})
			f.secrets.CheckError(t, err)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Fatalf("Check: reason %q (%v), want %q", got, err, tt.want)
			}
			if err == nil && res.HostKey != f.srv.HostKey {
				t.Errorf("Check: host key %q, want the server's %q", res.HostKey, f.srv.HostKey)
			}
		})
	}
}

// TestNetwork runs the SDK's checks of a target that does not answer: a
// closed port, an unknown host and a listener that never says anything.
func TestNetwork(t *testing.T) {
	t.Parallel()
	sdktest.Network(t, ssh.New(), sdk.Target{}, "nobody")
}

func TestInvalidRequests(t *testing.T) {
	pem, _ := sshd.GenerateKey(t)
	valid := func() *sdk.ChangeRequest {
		return &sdk.ChangeRequest{
			Target:  sdk.Target{Address: "127.0.0.1:1"},
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
		{"no address", func(r *sdk.ChangeRequest) { r.Target.Address = "" }, invalid},
		{"unknown parameter", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"port": "22"}
		}, invalid},
		{"bad method", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"reconcile_method": "su"}
		}, invalid},
		{"bad timeout", func(r *sdk.ChangeRequest) {
			r.Target.Params = map[string]string{"connect_timeout": "-1s"}
		}, invalid},
		{"bad host key", func(r *sdk.ChangeRequest) { r.Target.HostKey = "ssh-rsa x" }, invalid},
		{"shell in account", func(r *sdk.ChangeRequest) { r.Account = "a;reboot" }, invalid},
		{"path in account", func(r *sdk.ChangeRequest) { r.Account = "../root" }, invalid},
		{"newline in new", func(r *sdk.ChangeRequest) {
			r.New = sdk.NewSecret([]byte("x\nroot:y"))
		}, invalid},
		{"control in current", func(r *sdk.ChangeRequest) {
			r.Current = sdk.NewSecret([]byte("x\x03"))
		}, invalid},
		{"same value", func(r *sdk.ChangeRequest) { r.New = r.Current }, invalid},
		{"no current", func(r *sdk.ChangeRequest) { r.Current = sdk.Secret{} }, invalid},
		{"pin", func(r *sdk.ChangeRequest) { r.Type = sdk.PIN }, sdk.ReasonUnsupported},
		{"bad reconcile account", func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: "-rf", Credential: drivertest.Password("x")}
		}, invalid},
		{"new key not a key", func(r *sdk.ChangeRequest) {
			r.Type, r.Current = sdk.SSHKey, sdk.NewSecret(pem)
		}, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.change(req)
			_, err := ssh.New().Change(t.Context(), req)
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Change: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestCheckInNamespace checks a target that only a process inside its
// network namespace can reach: from the test process it is unreachable,
// from inside the namespace the same check succeeds.
func TestCheckInNamespace(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ns := netns.New(t)
	srv := sshd.Start(t, sshd.Options{NS: ns})
	name, pw := sshd.UserName(t), sshd.Password(t)
	sshd.CreateUser(t, name, pw)
	req := &sdk.CheckRequest{
		Target:     sdk.Target{Address: srv.Addr, HostKey: srv.HostKey},
		Account:    name,
		Credential: drivertest.Password(pw),
	}

	_, err := ssh.New().Check(t.Context(), req)
	if got := drivertest.Reason(t, err); got != sdk.ReasonUnreachable {
		t.Errorf("Check from outside the namespace: reason %q (%v), want unreachable", got, err)
	}
	err = ns.Do(func() error {
		_, err := ssh.New().Check(t.Context(), req)
		return err
	})
	if err != nil {
		t.Errorf("Check from inside the namespace: %v", err)
	}
}

// TestCheckKeyboardInteractive checks passwords against a server that
// takes them only through keyboard-interactive authentication.
func TestCheckKeyboardInteractive(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sshd.Options{Config: []string{"PasswordAuthentication no"}})
	name, pw := f.user(t)
	tests := []struct {
		name string
		pw   string
		want sdk.Reason
	}{
		{"right password", pw, ""},
		{"wrong password", pw + "x", sdk.ReasonAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := f.check(t, name, drivertest.Password(tt.pw))
			if got := drivertest.Reason(t, err); got != tt.want {
				t.Errorf("Check: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestCheckWithoutPAM checks passwords against servers without PAM, whose
// keyboard-interactive method, left on, has nothing to ask and refuses
// every login at once. A wrong password must still be auth_failed, and a
// server that takes passwords through keyboard-interactive only cannot
// take them at all.
func TestCheckWithoutPAM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		config    []string
		right     sdk.Reason // with the account's password
		wrong     sdk.Reason // with another one
		wantWords string     // in the error of the right password, if any
	}{
		{name: "password and keyboard-interactive", config: []string{"UsePAM no"},
			wrong: sdk.ReasonAuthFailed},
		{name: "keyboard-interactive only",
			config: []string{"UsePAM no", "PasswordAuthentication no"},
			right:  sdk.ReasonFailed, wrong: sdk.ReasonFailed, wantWords: "no password login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sshd.Options{Config: tt.config})
			name, pw := f.user(t)
			wrong := sshd.Password(t)
			f.secrets.Add(wrong)

			err := f.check(t, name, drivertest.Password(pw))
			if got := drivertest.Reason(t, err); got != tt.right {
				t.Errorf("Check with the right password: reason %q (%v), want %q",
					got, err, tt.right)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantWords) {
				t.Errorf("Check with the right password: %v; want it to say %q",
					err, tt.wantWords)
			}
			err = f.check(t, name, drivertest.Password(wrong))
			if got := drivertest.Reason(t, err); got != tt.wrong {
				t.Errorf("Check with a wrong password: reason %q (%v), want %q",
					got, err, tt.wrong)
			}
		})
	}
}
