//go:build cgo

package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/softhsm"
	"github.com/passman-dev/passman/server/model"
)

// The PassMan paths of the SoftHSM token and its two accounts.
const (
	hsmTarget = "hsm/token"
	hsmUser   = hsmTarget + "/user"
	hsmSO     = hsmTarget + "/so"
)

// eightDigits is what a PIN of the pin8 policy looks like.
var eightDigits = regexp.MustCompile(`^[0-9]{8}$`)

// TestPKCS11PINs changes the user PIN of a real SoftHSM token through an
// agent's pkcs11 plugin, first with the current PIN and then as the
// Security Officer, and proves each new PIN by logging in to the token
// from outside PassMan.
func TestPKCS11PINs(t *testing.T) {
	tok := softhsm.Start(t)
	e := newEnv(t, testserver.Config{})
	ag := e.startAgent(e.enroll("dc1"), nil)
	e.pkcs11Target(tok, "dc1")
	secrets := []string{tok.SOPIN, tok.UserPIN}

	// The user changes its own PIN to one the pin8 policy generates.
	pin := e.resetPIN(t, tok, "")
	tok.WantRefused(t, "the old user PIN", softhsm.User, tok.UserPIN)
	secrets = append(secrets, pin)
	if _, err := e.passman("", "account", "check", hsmUser, hsmSO, "--wait"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{hsmUser, hsmSO} {
		if a := e.waitSettled(path); a.Status != model.InSync {
			t.Errorf("after a check %s is %s, want InSync", path, a.Status)
		}
	}

	// The Security Officer sets a new user PIN without the current one.
	again := e.resetPIN(t, tok, "--reconcile")
	tok.WantRefused(t, "the user PIN before the reconcile", softhsm.User, pin)
	tok.WantLogin(t, "the SO PIN", softhsm.SO, tok.SOPIN)
	e.noSecrets([]*agentProc{ag}, append(secrets, again)...)
}

// pkcs11Target creates, with the CLI, the target of tok with the Security
// Officer as its reconcile account, the pin8 policy, and the token's two
// accounts with their PINs.
func (e *env) pkcs11Target(tok *softhsm.Token, zone string) {
	e.t.Helper()
	cmds := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"folder", "create", "hsm"}},
		{"", []string{"target", "create", hsmTarget, "--type", "pkcs11", "--address", "localhost",
			"--zone", zone, "--param", "library=" + tok.Library,
			"--param", "token_label=" + tok.Label, "--param", "config_env=" + tok.ConfigEnv(),
			"--reconcile-account", "so"}},
		{tok.SOPIN + "\n", []string{"account", "create", hsmSO, "--credential", "pin",
			"--value-stdin"}},
		{"", []string{"policy", "create", "pin8", "--type", "pin", "--length", "8"}},
		{tok.UserPIN + "\n", []string{"account", "create", hsmUser, "--credential", "pin",
			"--policy", "pin8", "--value-stdin"}},
	}
	for _, c := range cmds {
		if _, err := e.passman(c.stdin, c.args...); err != nil {
			e.t.Fatal(err)
		}
	}
}

// resetPIN resets the user PIN with a generated one, with the extra reset
// flag unless it is empty, and checks that the account is InSync and that
// the token takes the new PIN, which it returns.
func (e *env) resetPIN(t *testing.T, tok *softhsm.Token, flag string) string {
	t.Helper()
	args := []string{"account", "reset", hsmUser, "--type", "pin", "--generate", "--wait"}
	if flag != "" {
		args = append(args, flag)
	}
	out, err := e.passman("", args...)
	if err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("reset %s: %v\n%s", flag, err, out)
	}
	if a := e.waitSettled(hsmUser); a.Status != model.InSync {
		t.Errorf("after the reset %s the user is %s, want InSync", flag, a.Status)
	}
	pin := e.checkout(hsmUser, model.PIN)
	if !eightDigits.MatchString(pin) {
		t.Errorf("the generated PIN is not 8 digits (it is %d characters long)", len(pin))
	}
	tok.WantLogin(t, "the new user PIN", softhsm.User, pin)
	return pin
}
