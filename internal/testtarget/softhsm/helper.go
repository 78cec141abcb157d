//go:build cgo

package softhsm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	cryptoki "github.com/miekg/pkcs11"
)

// The environment of the login helper. When helperEnv is set, the
// package's init runs the helper in place of the program: Token.Login
// runs its own executable, a test binary, that way. The PIN comes on the
// helper's standard input, never in its arguments or environment.
const (
	helperEnv      = "PASSMAN_SOFTHSM_LOGIN_HELPER"
	helperLabelEnv = "PASSMAN_SOFTHSM_LOGIN_LABEL"
	helperWhoEnv   = "PASSMAN_SOFTHSM_LOGIN_WHO"
)

// helperCKR starts the line in which the helper reports a PKCS#11 error.
const helperCKR = "ckr="

func init() {
	if os.Getenv(helperEnv) == "" {
		return
	}
	if err := loginHelper(); err != nil {
		fmt.Println(helperText(err))
		os.Exit(1)
	}
	os.Exit(0)
}

// runLoginHelper logs in to tok as who with pin in a new process.
func runLoginHelper(tok *Token, who uint, pin string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the test binary: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=1", ConfEnv+"="+tok.Conf,
		helperLabelEnv+"="+tok.Label, helperWhoEnv+"="+strconv.FormatUint(uint64(who), 10))
	cmd.Stdin = strings.NewReader(pin + "\n")
	out, err := cmd.Output()
	if err == nil {
		return nil
	}
	line := strings.TrimSpace(string(out))
	if v, ok := strings.CutPrefix(line, helperCKR); ok {
		if n, perr := strconv.ParseUint(v, 10, 64); perr == nil {
			return cryptoki.Error(n)
		}
	}
	var stderr []byte
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		stderr = bytes.TrimSpace(ee.Stderr)
	}
	return fmt.Errorf("login helper: %v: %s %s", err, line, stderr)
}

// helperText returns err as the helper reports it: a PKCS#11 error as
// helperCKR and its number, anything else as its text.
func helperText(err error) string {
	var e cryptoki.Error
	if errors.As(err, &e) {
		return helperCKR + strconv.FormatUint(uint64(e), 10)
	}
	return err.Error()
}

// loginHelper is the helper's work: load the module afresh, find the
// token by its label and log in with the PIN read from stdin.
func loginHelper() error {
	pin, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the PIN: %w", err)
	}
	pin = strings.TrimSuffix(pin, "\n")
	who, err := strconv.ParseUint(os.Getenv(helperWhoEnv), 10, 64)
	if err != nil {
		return fmt.Errorf("reading %s: %w", helperWhoEnv, err)
	}
	c, slot, err := openToken(os.Getenv(helperLabelEnv))
	if err != nil {
		return err
	}
	sh, err := c.OpenSession(slot, cryptoki.CKF_SERIAL_SESSION|cryptoki.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	if err := c.Login(sh, uint(who), pin); err != nil {
		return err
	}
	return c.Logout(sh)
}

// openToken loads and initialises the module and returns the slot of
// the token labelled label.
func openToken(label string) (*cryptoki.Ctx, uint, error) {
	library, err := findLibrary()
	if err != nil {
		return nil, 0, err
	}
	c := cryptoki.New(library)
	if c == nil {
		return nil, 0, fmt.Errorf("%s does not load", library)
	}
	if err := c.Initialize(); err != nil {
		return nil, 0, fmt.Errorf("initialising %s: %w", library, err)
	}
	s := &store{ctx: c}
	slot, err := s.slotWhere(func(info cryptoki.TokenInfo) bool {
		return strings.TrimRight(info.Label, " ") == label
	})
	if err != nil {
		return nil, 0, fmt.Errorf("finding token %s: %w", label, err)
	}
	return c, slot, nil
}
