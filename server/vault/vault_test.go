package vault_test

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

const (
	firstName = "first"
	firstKey  = "correct horse battery staple"
	otherKey  = "a different vault key entirely"
)

// fastOpts keeps argon2id and the wrong-key delay cheap enough for tests.
var fastOpts = vault.Options{
	KDF:           vault.KDF{Time: 1, Memory: 8 * 1024, Threads: 1},
	WrongKeyDelay: 50 * time.Millisecond,
}

// env is a store in a temporary directory and the vault on it.
type env struct {
	dir        string
	st         *store.Store
	v          *vault.Vault
	closeStore func()
}

// newEnv opens a store in a fresh directory, with its vault not created.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.open(t)
	return e
}

// newOpenVault is newEnv with the vault created under firstName and open.
func newOpenVault(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.update(t, func(tx *store.Tx) error {
		return e.v.Initialize(tx, firstName, secret.FromString(firstKey))
	})
	if !e.v.IsOpen() {
		t.Fatal("vault is closed after Initialize")
	}
	return e
}

func (e *env) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(e.dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	var once sync.Once
	e.closeStore = func() {
		once.Do(func() {
			if err := st.Close(); err != nil {
				t.Errorf("closing store: %v", err)
			}
		})
	}
	t.Cleanup(e.closeStore)
	e.st = st
	e.v = vault.New(st, hclog.NewNullLogger(), fastOpts)
}

// restart closes the store and opens it again with a new, closed vault, as
// a server restart does.
func (e *env) restart(t *testing.T) {
	t.Helper()
	e.v.Close()
	e.closeStore()
	e.open(t)
}

// update runs fn in an Update and fails the test on error.
func (e *env) update(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.st.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// refused runs fn in an Update, checks that it fails with want and that the
// store is as it was, and returns the error.
func (e *env) refused(t *testing.T, want error, fn func(tx *store.Tx) error) error {
	t.Helper()
	before, err := e.st.Dump()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	err = e.st.Update(fn)
	if !errors.Is(err, want) {
		t.Errorf("Update = %v; want %v", err, want)
	}
	after, err := e.st.Dump()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if diff := cmp.Diff(after, before); diff != "" {
		t.Errorf("refused Update changed the store (-got +want):\n%s", diff)
	}
	return err
}

func (e *env) addKey(t *testing.T, name, key string) {
	t.Helper()
	e.update(t, func(tx *store.Tx) error {
		return e.v.AddKey(tx, name, secret.FromString(key))
	})
}

func (e *env) keyNames(t *testing.T) []string {
	t.Helper()
	names, err := e.v.KeyNames()
	if err != nil {
		t.Fatalf("KeyNames: %v", err)
	}
	return names
}

// mustOpen opens the vault with key and checks which slot opened it.
func (e *env) mustOpen(t *testing.T, key, wantSlot string) {
	t.Helper()
	slot, err := e.v.Open(secret.FromString(key))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if slot != wantSlot {
		t.Errorf("Open opened slot %q; want %q", slot, wantSlot)
	}
	if !e.v.IsOpen() {
		t.Error("vault is closed after Open")
	}
}

func (e *env) seal(t *testing.T, ad []byte, plaintext string) []byte {
	t.Helper()
	ct, err := e.v.Seal(ad, secret.FromString(plaintext))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return ct
}

// checkUnseal checks that ct opens under ad to want.
func (e *env) checkUnseal(t *testing.T, ad, ct []byte, want string) {
	t.Helper()
	got, err := e.v.Unseal(ad, ct)
	if err != nil {
		t.Fatalf("Unseal: %v", err)
	}
	if diff := cmp.Diff(string(got.Reveal()), want); diff != "" {
		t.Errorf("Unseal (-got +want):\n%s", diff)
	}
}

func TestSealUnsealRoundTrip(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.Password, 1)
	tests := []struct {
		name      string
		plaintext string
	}{
		{name: "empty", plaintext: ""},
		{name: "password", plaintext: "S3cr3t!pass"},
		{name: "binary", plaintext: "\x00\x01\xfe\xff\x00"},
		{name: "ssh key sized", plaintext: strings.Repeat("k", 4096)},
		{name: "large", plaintext: strings.Repeat("0123456789abcdef", 64*1024)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := e.seal(t, ad, tc.plaintext)
			// A 12-byte nonce and a 16-byte tag around the body.
			if want := len(tc.plaintext) + 12 + 16; len(ct) != want {
				t.Errorf("ciphertext is %d bytes; want %d", len(ct), want)
			}
			if len(tc.plaintext) > 4 && bytes.Contains(ct, []byte(tc.plaintext)) {
				t.Error("ciphertext holds the plaintext")
			}
			e.checkUnseal(t, ad, ct, tc.plaintext)

			again := e.seal(t, ad, tc.plaintext)
			if bytes.Equal(ct, again) {
				t.Error("sealing the same value twice gave the same ciphertext")
			}
			e.checkUnseal(t, ad, again, tc.plaintext)
		})
	}
}

func TestUnsealRefuses(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.Password, 3)
	ct := e.seal(t, ad, "the stored password")

	flip := func(i int) []byte {
		b := bytes.Clone(ct)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		ad   []byte
		ct   []byte
	}{
		{name: "other account", ad: vault.CredentialAD("acct-2", model.Password, 3), ct: ct},
		{name: "other type", ad: vault.CredentialAD("acct-1", model.PIN, 3), ct: ct},
		{name: "other version", ad: vault.CredentialAD("acct-1", model.Password, 4), ct: ct},
		{name: "no associated data", ad: nil, ct: ct},
		{name: "associated data with a byte more", ad: append(bytes.Clone(ad), ' '), ct: ct},
		{name: "flipped nonce byte", ad: ad, ct: flip(0)},
		{name: "flipped body byte", ad: ad, ct: flip(14)},
		{name: "flipped tag byte", ad: ad, ct: flip(-1)},
		{name: "truncated tag", ad: ad, ct: ct[:len(ct)-1]},
		{name: "nonce only", ad: ad, ct: ct[:12]},
		{name: "shorter than a nonce", ad: ad, ct: ct[:5]},
		{name: "empty", ad: ad, ct: nil},
		{name: "extra byte", ad: ad, ct: append(bytes.Clone(ct), 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.v.Unseal(tc.ad, tc.ct)
			if !errors.Is(err, vault.ErrCorrupt) {
				t.Errorf("Unseal = %v; want ErrCorrupt", err)
			}
			if !got.IsEmpty() {
				t.Error("a refused Unseal returned a value")
			}
		})
	}
	e.checkUnseal(t, ad, ct, "the stored password")
}

func TestCredentialADBindsEveryPart(t *testing.T) {
	ads := map[string]bool{}
	for _, acct := range []string{"a", "a1", "1"} {
		for _, typ := range model.CredentialTypes {
			for _, n := range []uint64{1, 11, 111} {
				ad := string(vault.CredentialAD(acct, typ, n))
				if ads[ad] {
					t.Errorf("CredentialAD(%q, %q, %d) = %q, already used", acct, typ, n, ad)
				}
				ads[ad] = true
			}
		}
	}
}

func TestOtherVaultCannotUnseal(t *testing.T) {
	a, b := newOpenVault(t), newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.PIN, 1)
	ct := a.seal(t, ad, "123456")
	if _, err := b.v.Unseal(ad, ct); !errors.Is(err, vault.ErrCorrupt) {
		t.Errorf("Unseal with another vault's data key = %v; want ErrCorrupt", err)
	}
}

func TestClosedVault(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.Password, 1)
	ct := e.seal(t, ad, "kept while closed")

	e.v.Close()
	if e.v.IsOpen() {
		t.Fatal("IsOpen after Close")
	}
	e.v.Close() // closing twice is allowed

	if got, err := e.v.Seal(ad, secret.FromString("x")); !errors.Is(err, vault.ErrClosed) {
		t.Errorf("Seal on a closed vault = %x, %v; want ErrClosed", got, err)
	}
	if got, err := e.v.Unseal(ad, ct); !errors.Is(err, vault.ErrClosed) || !got.IsEmpty() {
		t.Errorf("Unseal on a closed vault = %v; want ErrClosed and no value", err)
	}
	e.refused(t, vault.ErrClosed, func(tx *store.Tx) error {
		return e.v.AddKey(tx, "second", secret.FromString(otherKey))
	})

	e.mustOpen(t, firstKey, firstName)
	e.checkUnseal(t, ad, ct, "kept while closed")
}

func TestOpenAfterRestart(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.SSHKey, 7)
	ct := e.seal(t, ad, "-----BEGIN OPENSSH PRIVATE KEY-----")
	e.restart(t)

	if e.v.IsOpen() {
		t.Fatal("vault is open after a restart")
	}
	if ok, err := e.v.Initialized(); err != nil || !ok {
		t.Fatalf("Initialized = %v, %v; want true", ok, err)
	}
	if _, err := e.v.Unseal(ad, ct); !errors.Is(err, vault.ErrClosed) {
		t.Errorf("Unseal before Open = %v; want ErrClosed", err)
	}
	e.mustOpen(t, firstKey, firstName)
	e.checkUnseal(t, ad, ct, "-----BEGIN OPENSSH PRIVATE KEY-----")

	// Opening an open vault again is harmless.
	e.mustOpen(t, firstKey, firstName)
	e.checkUnseal(t, ad, ct, "-----BEGIN OPENSSH PRIVATE KEY-----")
}

func TestSlotKeepsItsKDF(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.Password, 1)
	ct := e.seal(t, ad, "value")
	e.v.Close()

	// A vault configured with another cost still opens the old slot.
	v := vault.New(e.st, hclog.NewNullLogger(), vault.Options{
		KDF:           vault.KDF{Time: 2, Memory: 16 * 1024, Threads: 2},
		WrongKeyDelay: fastOpts.WrongKeyDelay,
	})
	if _, err := v.Open(secret.FromString(firstKey)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := v.Unseal(ad, ct); err != nil {
		t.Errorf("Unseal: %v", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	e := newOpenVault(t)
	e.addKey(t, "second", otherKey)
	e.restart(t)

	tests := []struct {
		name string
		key  string
	}{
		{name: "unrelated", key: "not any vault key at all"},
		{name: "one character changed", key: "correct horse battery stapla"},
		{name: "prefix of a key", key: firstKey[:len(firstKey)-1]},
		{name: "key with a byte more", key: firstKey + " "},
		{name: "slot name", key: firstName},
		{name: "empty", key: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			slot, err := e.v.Open(secret.FromString(tc.key))
			elapsed := time.Since(start)
			if !errors.Is(err, vault.ErrWrongKey) {
				t.Fatalf("Open = %q, %v; want ErrWrongKey", slot, err)
			}
			if elapsed < fastOpts.WrongKeyDelay {
				t.Errorf("wrong key answered in %v; want at least %v",
					elapsed, fastOpts.WrongKeyDelay)
			}
			if e.v.IsOpen() {
				t.Error("vault is open after a wrong key")
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

func TestWrongKeysAreSerialised(t *testing.T) {
	const guessers = 3
	e := newOpenVault(t)
	e.restart(t)

	start := time.Now()
	var wg sync.WaitGroup
	for i := range guessers {
		wg.Go(func() {
			_, err := e.v.Open(secret.FromString(fmt.Sprintf("guess number %d of many", i)))
			if !errors.Is(err, vault.ErrWrongKey) {
				t.Errorf("Open = %v; want ErrWrongKey", err)
			}
		})
	}
	wg.Wait()
	if want := guessers * fastOpts.WrongKeyDelay; time.Since(start) < want {
		t.Errorf("%d parallel wrong keys took %v; want at least %v",
			guessers, time.Since(start), want)
	}
}

func TestNotInitialized(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.v.Initialized(); err != nil || ok {
		t.Errorf("Initialized = %v, %v; want false", ok, err)
	}
	if _, err := e.v.Open(secret.FromString(firstKey)); !errors.Is(err, vault.ErrNotInitialized) {
		t.Errorf("Open = %v; want ErrNotInitialized", err)
	}
	if names := e.keyNames(t); len(names) != 0 {
		t.Errorf("KeyNames = %q; want none", names)
	}
	if e.v.IsOpen() {
		t.Error("IsOpen before Initialize")
	}
}

// errRefused marks an Update the test itself made fail.
var errRefused = errors.New("refused by the test")

func TestInitializeTwice(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-1", model.Password, 1)
	ct := e.seal(t, ad, "sealed before")
	tests := []struct {
		name     string
		v        func() *vault.Vault
		wantOpen bool
	}{
		{name: "same vault", v: func() *vault.Vault { return e.v }, wantOpen: true},
		{
			name: "new vault on the store",
			v: func() *vault.Vault {
				return vault.New(e.st, hclog.NewNullLogger(), fastOpts)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v()
			e.refused(t, errRefused, func(tx *store.Tx) error {
				err := v.Initialize(tx, "again", secret.FromString(otherKey))
				if err == nil {
					t.Error("second Initialize succeeded")
				}
				return errors.Join(err, errRefused)
			})
			if v.IsOpen() != tc.wantOpen {
				t.Errorf("IsOpen after a refused Initialize = %v; want %v", v.IsOpen(), tc.wantOpen)
			}
		})
	}
	// The data key is the one from before.
	e.checkUnseal(t, ad, ct, "sealed before")
	e.v.Close()
	if _, err := e.v.Open(secret.FromString(otherKey)); !errors.Is(err, vault.ErrWrongKey) {
		t.Errorf("Open with the refused key = %v; want ErrWrongKey", err)
	}

	t.Run("twice in one transaction", func(t *testing.T) {
		f := newEnv(t)
		f.refused(t, errRefused, func(tx *store.Tx) error {
			if err := f.v.Initialize(tx, firstName, secret.FromString(firstKey)); err != nil {
				t.Errorf("first Initialize: %v", err)
				return err
			}
			err := f.v.Initialize(tx, "again", secret.FromString(otherKey))
			if err == nil {
				t.Error("second Initialize in the same Tx succeeded")
			}
			return errors.Join(err, errRefused)
		})
	})
}

func TestShortKeys(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{name: "empty", key: ""},
		{name: "one under the minimum", key: strings.Repeat("x", vault.MinKeyLength-1)},
		{name: "at the minimum", key: strings.Repeat("x", vault.MinKeyLength), ok: true},
		{
			// Characters count, not bytes: 15 two-byte letters are too few.
			name: "multibyte under the minimum",
			key:  strings.Repeat("é", vault.MinKeyLength-1),
		},
		{
			name: "multibyte at the minimum",
			key:  strings.Repeat("é", vault.MinKeyLength),
			ok:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("Initialize", func(t *testing.T) {
				e := newEnv(t)
				init := func(tx *store.Tx) error {
					return e.v.Initialize(tx, firstName, secret.FromString(tc.key))
				}
				if tc.ok {
					e.update(t, init)
					e.restart(t)
					e.mustOpen(t, tc.key, firstName)
					return
				}
				err := e.refused(t, vault.ErrShortKey, init)
				if e.v.IsOpen() {
					t.Error("vault is open after a refused Initialize")
				}
				if tc.key != "" && err != nil && strings.Contains(err.Error(), tc.key) {
					t.Errorf("error %q shows the key", err)
				}
			})
			t.Run("AddKey", func(t *testing.T) {
				e := newOpenVault(t)
				add := func(tx *store.Tx) error {
					return e.v.AddKey(tx, "second", secret.FromString(tc.key))
				}
				if tc.ok {
					e.update(t, add)
					e.restart(t)
					e.mustOpen(t, tc.key, "second")
					return
				}
				e.refused(t, vault.ErrShortKey, add)
			})
		})
	}
}

func TestAddKey(t *testing.T) {
	e := newOpenVault(t)
	ad := vault.CredentialAD("acct-9", model.Password, 2)
	ct := e.seal(t, ad, "sealed before the second key")
	e.addKey(t, "second", otherKey)

	e.refused(t, vault.ErrKeyExists, func(tx *store.Tx) error {
		return e.v.AddKey(tx, "second", secret.FromString("yet another long vault key"))
	})
	e.refused(t, vault.ErrKeyExists, func(tx *store.Tx) error {
		return e.v.AddKey(tx, firstName, secret.FromString("yet another long vault key"))
	})

	tests := []struct {
		name, key, slot string
	}{
		{name: "second key", key: otherKey, slot: "second"},
		{name: "first key still", key: firstKey, slot: firstName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.restart(t)
			e.mustOpen(t, tc.key, tc.slot)
			e.checkUnseal(t, ad, ct, "sealed before the second key")
		})
	}
}

func TestRemoveKey(t *testing.T) {
	tests := []struct {
		name     string
		add      []string // slots besides firstName
		remove   string
		wantErr  error
		wantKeys []string
	}{
		{
			name:     "last key",
			remove:   firstName,
			wantErr:  vault.ErrLastKey,
			wantKeys: []string{firstName},
		},
		{
			name:     "unknown key",
			remove:   "nobody",
			wantErr:  vault.ErrNoKey,
			wantKeys: []string{firstName},
		},
		{
			name:     "unknown key with others",
			add:      []string{"second"},
			remove:   "secon",
			wantErr:  vault.ErrNoKey,
			wantKeys: []string{firstName, "second"},
		},
		{
			name:     "one of two",
			add:      []string{"second"},
			remove:   firstName,
			wantKeys: []string{"second"},
		},
		{
			name:     "added one of three",
			add:      []string{"second", "third"},
			remove:   "second",
			wantKeys: []string{firstName, "third"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newOpenVault(t)
			for _, name := range tc.add {
				e.addKey(t, name, "vault key called "+name)
			}
			remove := func(tx *store.Tx) error { return e.v.RemoveKey(tx, tc.remove) }
			if tc.wantErr != nil {
				e.refused(t, tc.wantErr, remove)
			} else {
				e.update(t, remove)
			}
			if diff := cmp.Diff(e.keyNames(t), tc.wantKeys); diff != "" {
				t.Errorf("KeyNames (-got +want):\n%s", diff)
			}
			if tc.wantErr != nil {
				return
			}

			// The removed key no longer opens the vault; the others do.
			e.restart(t)
			removedKey := firstKey
			if tc.remove != firstName {
				removedKey = "vault key called " + tc.remove
			}
			_, err := e.v.Open(secret.FromString(removedKey))
			if !errors.Is(err, vault.ErrWrongKey) {
				t.Errorf("Open with the removed key = %v; want ErrWrongKey", err)
			}
			for _, name := range tc.wantKeys {
				key := firstKey
				if name != firstName {
					key = "vault key called " + name
				}
				e.mustOpen(t, key, name)
				e.v.Close()
			}
		})
	}
}

func TestRemoveDownToOneKey(t *testing.T) {
	e := newOpenVault(t)
	e.addKey(t, "second", otherKey)
	e.update(t, func(tx *store.Tx) error { return e.v.RemoveKey(tx, "second") })
	e.refused(t, vault.ErrLastKey, func(tx *store.Tx) error {
		return e.v.RemoveKey(tx, firstName)
	})

	// Within one transaction, removing both is refused at the second.
	e.addKey(t, "second", otherKey)
	e.refused(t, vault.ErrLastKey, func(tx *store.Tx) error {
		if err := e.v.RemoveKey(tx, "second"); err != nil {
			return err
		}
		return e.v.RemoveKey(tx, firstName)
	})
	if diff := cmp.Diff(e.keyNames(t), []string{firstName, "second"}); diff != "" {
		t.Errorf("KeyNames (-got +want):\n%s", diff)
	}
}

func TestKeyNames(t *testing.T) {
	e := newOpenVault(t)
	keys := map[string]string{
		"zeta":  "zeta's long vault key",
		"alpha": "alpha's long vault key",
		"mid":   "the middle vault key",
	}
	for name, key := range keys {
		e.addKey(t, name, key)
	}
	e.v.Close()

	names := e.keyNames(t)
	if diff := cmp.Diff(names, []string{"alpha", firstName, "mid", "zeta"}); diff != "" {
		t.Errorf("KeyNames (-got +want):\n%s", diff)
	}
	keys[firstName] = firstKey
	for _, name := range names {
		for _, key := range keys {
			if strings.Contains(name, key) {
				t.Errorf("KeyNames entry %q holds a vault key", name)
			}
		}
	}
}

func TestVaultKeysNotStored(t *testing.T) {
	e := newOpenVault(t)
	e.addKey(t, "second", otherKey)
	d, err := e.st.Dump()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	for k, v := range d {
		for _, key := range []string{firstKey, otherKey} {
			if strings.Contains(k, key) || strings.Contains(v, key) {
				t.Errorf("record %s holds a vault key", k)
			}
		}
	}
}

func TestGenerateKey(t *testing.T) {
	format := regexp.MustCompile(`^pmvk-[A-Z2-7]{32}$`)
	seen := map[string]bool{}
	for range 50 {
		k := string(vault.GenerateKey().Reveal())
		if !format.MatchString(k) {
			t.Fatalf("GenerateKey = %q; want pmvk- and 32 base32 characters", k)
		}
		if len(k) < vault.MinKeyLength {
			t.Errorf("GenerateKey is %d characters; want at least %d", len(k), vault.MinKeyLength)
		}
		if seen[k] {
			t.Errorf("GenerateKey repeated %q", k)
		}
		seen[k] = true
	}

	k := vault.GenerateKey()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := fmt.Sprintf(verb, k); strings.Contains(got, string(k.Reveal())[5:]) {
			t.Errorf("%s of a generated key shows it: %s", verb, got)
		}
	}

	// A generated key works as a vault key.
	e := newEnv(t)
	e.update(t, func(tx *store.Tx) error { return e.v.Initialize(tx, "generated", k) })
	e.restart(t)
	e.mustOpen(t, string(k.Reveal()), "generated")
}
