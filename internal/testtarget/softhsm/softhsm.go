//go:build cgo

package softhsm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	cryptoki "github.com/miekg/pkcs11"
)

// ConfEnv is the environment variable that names SoftHSM's configuration
// file.
const ConfEnv = "SOFTHSM2_CONF"

// Account types for Token.Login.
const (
	User = cryptoki.CKU_USER
	SO   = cryptoki.CKU_SO
)

// libraryGlobs are where the SoftHSM 2 module is looked for.
var libraryGlobs = []string{
	"/usr/lib/*/softhsm/libsofthsm2.so",
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// storePrefix starts the name of every store's directory, followed by the
// process id of the process that made it.
const storePrefix = "passman-softhsm-"

// Token is a SoftHSM token made for one test, with a fresh label, SO PIN
// and user PIN.
type Token struct {
	// Library is the path of the SoftHSM PKCS#11 module.
	Library string
	// Conf is the path of the store's configuration file.
	Conf string
	// Label is the token's label.
	Label string
	// Slot is the token's slot id as this process sees it. SoftHSM gives a
	// token another slot id in a process that starts after it was made.
	Slot uint
	// SOPIN is the Security Officer's PIN: 12 digits.
	SOPIN string
	// UserPIN is the user's PIN: 8 digits.
	UserPIN string

	s *store
}

// store is the token store of the process.
type store struct {
	dir, conf, library string
	ctx                *cryptoki.Ctx
	// mu runs one token initialisation at a time: each takes the store's
	// one free slot.
	mu sync.Mutex
}

var shared = sync.OnceValues(newStore)

// Start makes a new token in the process's store and returns it. The
// token stays in the store until the store is removed.
func Start(t testing.TB) *Token {
	t.Helper()
	s, err := shared()
	if errors.Is(err, errNoLibrary) {
		if os.Geteuid() != 0 && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("making the SoftHSM store: %v", err)
	}
	tok := &Token{Library: s.library, Conf: s.conf, Label: label(t),
		SOPIN: digits(t, 12), UserPIN: digits(t, 8), s: s}
	if err := s.initToken(tok); err != nil {
		t.Fatalf("initialising token %s: %v", tok.Label, err)
	}
	return tok
}

// ConfigEnv returns the pkcs11 driver's config_env parameter that points
// it at the token's store.
func (tok *Token) ConfigEnv() string { return ConfEnv + "=" + tok.Conf }

// Login logs in to the token as who (User or SO) with pin, and out
// again, from a new process that sees the token as it is in the store
// now: a module that has been initialised keeps what it read of a token,
// and misses what other processes changed since. It returns the module's
// error, such as CKR_PIN_INCORRECT, when the token refuses the PIN.
func (tok *Token) Login(who uint, pin string) error {
	return runLoginHelper(tok, who, pin)
}

// WantLogin fails the test unless the token takes pin for who.
func (tok *Token) WantLogin(t testing.TB, what string, who uint, pin string) {
	t.Helper()
	if err := tok.Login(who, pin); err != nil {
		t.Errorf("logging in to token %s with %s: %v", tok.Label, what, err)
	}
}

// WantRefused fails the test unless the token refuses pin for who as
// incorrect.
func (tok *Token) WantRefused(t testing.TB, what string, who uint, pin string) {
	t.Helper()
	err := tok.Login(who, pin)
	if !errors.Is(err, cryptoki.Error(cryptoki.CKR_PIN_INCORRECT)) {
		t.Errorf("logging in to token %s with %s: %v, want CKR_PIN_INCORRECT", tok.Label, what, err)
	}
}

// UserPINLocked reports whether the module says the token's user PIN is
// locked (CKF_USER_PIN_LOCKED), as this process sees the token.
func (tok *Token) UserPINLocked(t testing.TB) bool {
	t.Helper()
	info, err := tok.s.ctx.GetTokenInfo(tok.Slot)
	if err != nil {
		t.Fatalf("reading token %s: %v", tok.Label, err)
	}
	return info.Flags&cryptoki.CKF_USER_PIN_LOCKED != 0
}

// errNoLibrary means the SoftHSM module is not installed.
var errNoLibrary = errors.New("the SoftHSM 2 module libsofthsm2.so is missing: " +
	"run make test, which installs the apt package softhsm2")

// newStore makes the process's store, points SOFTHSM2_CONF at it and
// initialises the module.
func newStore() (*store, error) {
	library, err := findLibrary()
	if err != nil {
		return nil, err
	}
	sweep()
	dir, err := os.MkdirTemp("", storePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	s := &store{dir: dir, conf: filepath.Join(dir, "softhsm2.conf"), library: library}
	if err := s.writeConf(); err != nil {
		return nil, err
	}
	// The module reads the variable when it is initialised, here or by a
	// driver in this process: it must hold for the whole process.
	if err := os.Setenv(ConfEnv, s.conf); err != nil {
		return nil, err
	}
	if s.ctx = cryptoki.New(library); s.ctx == nil {
		return nil, fmt.Errorf("%s does not load", library)
	}
	err = s.ctx.Initialize()
	if err != nil && !errors.Is(err, cryptoki.Error(cryptoki.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return nil, fmt.Errorf("initialising %s: %w", library, err)
	}
	return s, nil
}

// findLibrary returns the path of the SoftHSM module.
func findLibrary() (string, error) {
	for _, g := range libraryGlobs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return m[0], nil
		}
	}
	return "", errNoLibrary
}

// writeConf writes the store's configuration and makes its token
// directory.
func (s *store) writeConf() error {
	tokens := filepath.Join(s.dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	conf := strings.Join([]string{
		"directories.tokendir = " + tokens,
		"objectstore.backend = file",
		"log.level = ERROR",
		"slots.removable = false",
	}, "\n") + "\n"
	return os.WriteFile(s.conf, []byte(conf), 0o600)
}

// sweep removes the stores of test processes that have ended.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), storePrefix+"*"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), storePrefix), "-")
		n, err := strconv.Atoi(pid)
		if err == nil && n > 0 && errors.Is(syscall.Kill(n, 0), syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// initToken initialises the store's free token with tok's label and SO
// PIN, sets its user PIN and fills in its slot.
func (s *store) initToken(tok *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	free, err := s.slotWhere(func(info cryptoki.TokenInfo) bool {
		return info.Flags&cryptoki.CKF_TOKEN_INITIALIZED == 0
	})
	if err != nil {
		return fmt.Errorf("finding the free slot: %w", err)
	}
	if err := s.ctx.InitToken(free, tok.SOPIN, tok.Label); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	tok.Slot, err = s.slotWhere(func(info cryptoki.TokenInfo) bool {
		return strings.TrimRight(info.Label, " ") == tok.Label
	})
	if err != nil {
		return fmt.Errorf("finding the new token: %w", err)
	}
	return s.initPIN(tok)
}

// initPIN sets a new token's user PIN as its Security Officer.
func (s *store) initPIN(tok *Token) error {
	sh, err := s.ctx.OpenSession(tok.Slot, cryptoki.CKF_SERIAL_SESSION|cryptoki.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("opening a session: %w", err)
	}
	defer func() { _ = s.ctx.CloseSession(sh) }()
	if err := s.ctx.Login(sh, cryptoki.CKU_SO, tok.SOPIN); err != nil {
		return fmt.Errorf("logging in as the Security Officer: %w", err)
	}
	defer func() { _ = s.ctx.Logout(sh) }()
	if err := s.ctx.InitPIN(sh, tok.UserPIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	return nil
}

// slotWhere returns the first slot whose token matches.
func (s *store) slotWhere(match func(cryptoki.TokenInfo) bool) (uint, error) {
	slots, err := s.ctx.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, slot := range slots {
		info, err := s.ctx.GetTokenInfo(slot)
		if err == nil && match(info) {
			return slot, nil
		}
	}
	return 0, errors.New("no such token")
}

// label returns a fresh token label, within the 32 bytes of PKCS#11.
func label(t testing.TB) string {
	t.Helper()
	return "pmt-" + strings.ToLower(rand.Text()[:16])
}

// digits returns n random decimal digits.
func digits(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			t.Fatalf("reading random digits: %v", err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
