//go:build cgo

package pkcs11_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/passman-dev/passman/internal/testtarget/softhsm"
	"github.com/passman-dev/passman/plugins/pkcs11"
	"github.com/passman-dev/passman/plugins/sdk"
)

func TestCheck(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		target  sdk.Target
		account string
		pin     string
		want    sdk.Reason
	}{
		{"right user PIN", f.target(), pkcs11.AccountUser, f.tok.UserPIN, ""},
		{"right user PIN, token by slot", f.bySlot(), pkcs11.AccountUser, f.tok.UserPIN, ""},
		{"wrong user PIN", f.target(), pkcs11.AccountUser, "00000000", sdk.ReasonAuthFailed},
		{"SO PIN as the user's", f.target(), pkcs11.AccountUser, f.tok.SOPIN,
			sdk.ReasonAuthFailed},
		{"right SO PIN", f.target(), pkcs11.AccountSO, f.tok.SOPIN, ""},
		{"wrong SO PIN", f.target(), pkcs11.AccountSO, "000000000000", sdk.ReasonAuthFailed},
		{"PIN shorter than the token takes", f.target(), pkcs11.AccountUser, "12",
			sdk.ReasonAuthFailed},
		{"empty PIN", f.target(), pkcs11.AccountUser, "", sdk.ReasonAuthFailed},
		{"unknown account", f.target(), "admin", f.tok.UserPIN, sdk.ReasonInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.check(t, tc.target, tc.account, tc.pin); got != tc.want {
				t.Errorf("check = %q, want %q", got, tc.want)
			}
		})
	}
	f.tok.WantLogin(t, "the user PIN after the checks", softhsm.User, f.tok.UserPIN)
}

func TestChangeOwnPIN(t *testing.T) {
	cases := []struct {
		account string
		who     uint
		current func(*softhsm.Token) string
		next    string
	}{
		{pkcs11.AccountUser, softhsm.User, func(k *softhsm.Token) string { return k.UserPIN },
			"48151623"},
		{pkcs11.AccountSO, softhsm.SO, func(k *softhsm.Token) string { return k.SOPIN },
			"4815162342"},
	}
	for _, tc := range cases {
		t.Run(tc.account, func(t *testing.T) {
			f := newFixture(t)
			f.pin(tc.next)
			old := tc.current(f.tok)
			got := f.change(t, &sdk.ChangeRequest{Account: tc.account,
				Current: secret(old), New: secret(tc.next)})
			if got != "" {
				t.Fatalf("change = %q, want success", got)
			}
			f.tok.WantLogin(t, "the new PIN", tc.who, tc.next)
			f.tok.WantRefused(t, "the old PIN", tc.who, old)
			if got := f.check(t, f.target(), tc.account, tc.next); got != "" {
				t.Errorf("check of the new PIN = %q, want success", got)
			}
		})
	}
}

func TestChangeWithWrongCurrentPIN(t *testing.T) {
	f := newFixture(t)
	got := f.change(t, &sdk.ChangeRequest{Account: pkcs11.AccountUser,
		Current: secret("11112222"), New: secret("33334444")})
	if got != sdk.ReasonAuthFailed {
		t.Errorf("change = %q, want %q", got, sdk.ReasonAuthFailed)
	}
	f.tok.WantLogin(t, "the PIN it had", softhsm.User, f.tok.UserPIN)
	f.tok.WantRefused(t, "the PIN the change asked for", softhsm.User, "33334444")
}

func TestReconcileSetsAUserPINNobodyKnows(t *testing.T) {
	f := newFixture(t)
	const next = "90817263"
	f.pin(next)

	// With a wrong SO PIN nothing changes.
	got := f.change(t, &sdk.ChangeRequest{Account: pkcs11.AccountUser, New: secret(next),
		Reconcile: soLogin("999999999999")})
	if got != sdk.ReasonAuthFailed {
		t.Errorf("reconcile with a wrong SO PIN = %q, want %q", got, sdk.ReasonAuthFailed)
	}
	f.tok.WantLogin(t, "the PIN it had", softhsm.User, f.tok.UserPIN)

	got = f.change(t, &sdk.ChangeRequest{Account: pkcs11.AccountUser, New: secret(next),
		Reconcile: soLogin(f.tok.SOPIN)})
	if got != "" {
		t.Fatalf("reconcile = %q, want success", got)
	}
	f.tok.WantLogin(t, "the PIN the Security Officer set", softhsm.User, next)
	f.tok.WantRefused(t, "the forgotten PIN", softhsm.User, f.tok.UserPIN)
	f.tok.WantLogin(t, "the SO PIN", softhsm.SO, f.tok.SOPIN)
}

func TestNewPINRefusedByTheToken(t *testing.T) {
	f := newFixture(t)
	long := make([]byte, 300)
	for i := range long {
		long[i] = '7'
	}
	cases := []struct {
		name string
		req  *sdk.ChangeRequest
	}{
		{"too short", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			Current: secret(f.tok.UserPIN), New: secret("123")}},
		{"too long", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			Current: secret(f.tok.UserPIN), New: secret(string(long))}},
		{"too short, by the Security Officer", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			New: secret("123"), Reconcile: soLogin(f.tok.SOPIN)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.change(t, tc.req); got != sdk.ReasonRejected {
				t.Errorf("change = %q, want %q", got, sdk.ReasonRejected)
			}
			f.tok.WantLogin(t, "the PIN it had", softhsm.User, f.tok.UserPIN)
		})
	}
}

func TestChangeRefusedBeforeReachingTheToken(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		req  *sdk.ChangeRequest
		want sdk.Reason
	}{
		{"a password", &sdk.ChangeRequest{Account: pkcs11.AccountUser, Type: sdk.Password,
			Current: secret(f.tok.UserPIN), New: secret("55556666")}, sdk.ReasonUnsupported},
		{"unknown account", &sdk.ChangeRequest{Account: "root",
			Current: secret(f.tok.UserPIN), New: secret("55556666")}, sdk.ReasonInvalidParams},
		{"no current PIN", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			New: secret("55556666")}, sdk.ReasonInvalidParams},
		{"empty new PIN", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			Current: secret(f.tok.UserPIN)}, sdk.ReasonRejected},
		{"reconcile of the SO PIN", &sdk.ChangeRequest{Account: pkcs11.AccountSO,
			New: secret("55556666"), Reconcile: soLogin(f.tok.SOPIN)}, sdk.ReasonUnsupported},
		{"reconcile as the user", &sdk.ChangeRequest{Account: pkcs11.AccountUser,
			New: secret("55556666"), Reconcile: &sdk.Login{Account: pkcs11.AccountUser,
				Credential: sdk.Credential{Type: sdk.PIN, Value: secret(f.tok.UserPIN)}}},
			sdk.ReasonInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.change(t, tc.req); got != tc.want {
				t.Errorf("change = %q, want %q", got, tc.want)
			}
		})
	}
	f.tok.WantLogin(t, "the user PIN it had", softhsm.User, f.tok.UserPIN)
	f.tok.WantLogin(t, "the SO PIN it had", softhsm.SO, f.tok.SOPIN)
}

// TestPINLockedAfterWrongTries runs only where the module locks a PIN.
// SoftHSM 2 counts wrong PINs (it sets CKF_USER_PIN_COUNT_LOW) but never
// locks one.
func TestPINLockedAfterWrongTries(t *testing.T) {
	f := newFixture(t)
	for range 20 {
		f.check(t, f.target(), pkcs11.AccountUser, "13579135")
	}
	if !f.tok.UserPINLocked(t) {
		t.Skip("this SoftHSM does not lock a PIN after wrong tries; nothing to map to locked_out")
	}
	got := f.check(t, f.target(), pkcs11.AccountUser, f.tok.UserPIN)
	if got != sdk.ReasonLockedOut {
		t.Errorf("check of a locked PIN = %q, want %q", got, sdk.ReasonLockedOut)
	}
}

func TestTokenNotFound(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		params map[string]string
	}{
		{"no such label", map[string]string{pkcs11.ParamTokenLabel: "no-such-token"}},
		{"no such slot", map[string]string{pkcs11.ParamSlot: "987654"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := sdk.Target{Address: "localhost", Params: map[string]string{
				pkcs11.ParamLibrary:   f.tok.Library,
				pkcs11.ParamConfigEnv: f.tok.ConfigEnv(),
			}}
			for k, v := range tc.params {
				target.Params[k] = v
			}
			got := f.check(t, target, pkcs11.AccountUser, f.tok.UserPIN)
			if got != sdk.ReasonUnreachable {
				t.Errorf("check = %q, want %q", got, sdk.ReasonUnreachable)
			}
		})
	}
}

func TestBadLibrary(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	notModule := filepath.Join(dir, "not-a-module.so")
	writable := filepath.Join(dir, "writable.so")
	for _, p := range []string{notModule, writable} {
		if err := os.WriteFile(p, []byte("not an ELF file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, library string
	}{
		{"relative path", "softhsm/libsofthsm2.so"},
		{"missing file", filepath.Join(dir, "missing.so")},
		{"directory", dir},
		{"not a PKCS#11 module", notModule},
		{"writable by others", writable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := f.target()
			target.Params[pkcs11.ParamLibrary] = tc.library
			got := f.check(t, target, pkcs11.AccountUser, f.tok.UserPIN)
			if got != sdk.ReasonInvalidParams {
				t.Errorf("check = %q, want %q", got, sdk.ReasonInvalidParams)
			}
		})
	}
}

func TestBadParams(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		set  map[string]string
		drop string
	}{
		{"no library", nil, pkcs11.ParamLibrary},
		{"no token", nil, pkcs11.ParamTokenLabel},
		{"both label and slot", map[string]string{pkcs11.ParamSlot: "1"}, ""},
		{"slot not a number", map[string]string{pkcs11.ParamSlot: "first"},
			pkcs11.ParamTokenLabel},
		{"label too long", map[string]string{
			pkcs11.ParamTokenLabel: "a-label-longer-than-32-bytes-0123"}, ""},
		{"config_env without =", map[string]string{pkcs11.ParamConfigEnv: "SOFTHSM2_CONF"}, ""},
		{"config_env of the loader", map[string]string{
			pkcs11.ParamConfigEnv: "LD_PRELOAD=/tmp/x.so"}, ""},
		{"config_env unlike the module's", map[string]string{
			pkcs11.ParamConfigEnv: softhsm.ConfEnv + "=/etc/softhsm/softhsm2.conf"}, ""},
		{"unknown parameter", map[string]string{"pin": "1234"}, ""},
	}
	// The module is loaded with the store's configuration first, so that
	// the case of another configuration finds it loaded.
	if got := f.check(t, f.target(), pkcs11.AccountUser, f.tok.UserPIN); got != "" {
		t.Fatalf("check = %q, want success", got)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := f.target()
			for k, v := range tc.set {
				target.Params[k] = v
			}
			delete(target.Params, tc.drop)
			got := f.check(t, target, pkcs11.AccountUser, f.tok.UserPIN)
			if got != sdk.ReasonInvalidParams {
				t.Errorf("check = %q, want %q", got, sdk.ReasonInvalidParams)
			}
		})
	}
}

// TestConcurrentRequests checks one token with right and wrong PINs at
// once: the token's login state is shared by the whole process, so a
// request that ran into another's login would answer wrongly.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			k, account, pin, want := f, pkcs11.AccountUser, f.tok.UserPIN, sdk.Reason("")
			switch i % 4 {
			case 1:
				pin, want = "24682468", sdk.ReasonAuthFailed
			case 2:
				account, pin = pkcs11.AccountSO, f.tok.SOPIN
			case 3:
				k, pin = other, other.tok.UserPIN
			}
			if got := k.check(t, k.target(), account, pin); got != want {
				t.Errorf("request %d: check = %q, want %q", i, got, want)
			}
		})
	}
	wg.Wait()
}
