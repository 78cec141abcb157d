// Package vault owns the data key that encrypts every stored secret, and the
// vault keys that unlock it.
//
// The data key is 32 random bytes made once, when the vault is created. It
// is never stored in clear: each vault key has a slot holding the data key
// wrapped with AES-256-GCM under a key derived from the vault key with
// argon2id. Opening the vault unwraps the data key from the first slot the
// given vault key opens; closing it wipes the data key from memory.
//
// Secrets are sealed with AES-256-GCM under the data key, with the owning
// object bound in as associated data, so a ciphertext copied to another
// record does not open there.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/argon2"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// MinKeyLength is the shortest vault key accepted, in characters.
const MinKeyLength = 16

var (
	// ErrClosed is returned for any use of the data key while the vault is
	// closed.
	ErrClosed = errors.New("vault is closed")
	// ErrWrongKey is returned when no slot opens with the given vault key.
	ErrWrongKey = errors.New("no vault key slot opens with this key")
	// ErrLastKey is returned when removing the only vault key.
	ErrLastKey = errors.New("the last vault key cannot be removed")
	// ErrKeyExists is returned when adding a vault key whose name is taken.
	ErrKeyExists = errors.New("a vault key with this name exists")
	// ErrNoKey is returned when removing a vault key that does not exist.
	ErrNoKey = errors.New("no vault key with this name")
	// ErrShortKey is returned for a vault key under MinKeyLength characters.
	ErrShortKey = fmt.Errorf("a vault key needs at least %d characters", MinKeyLength)
	// ErrInitialized is returned by Initialize for a store that holds a
	// vault.
	ErrInitialized = errors.New("the data directory already holds a vault")
	// ErrBadSlot is returned for a vault key slot with unusable parameters.
	ErrBadSlot = errors.New("vault key slot is malformed")
	// ErrNotInitialized is returned when the store has no vault.
	ErrNotInitialized = errors.New("the data directory holds no vault; run passman server init")
)

// KDF is the argon2id cost of deriving a slot key from a vault key.
type KDF struct {
	// Time is the number of passes. Default 3.
	Time uint32
	// Memory is in KiB. Default 64 MiB.
	Memory uint32
	// Threads is the parallelism. Default 2.
	Threads uint8
}

// DefaultKDF is the cost used for new vault key slots.
var DefaultKDF = KDF{Time: 3, Memory: 64 * 1024, Threads: 2}

// Options configures a Vault.
type Options struct {
	// KDF is the cost for new slots. Default DefaultKDF.
	KDF KDF
	// WrongKeyDelay is added to every failed open, on top of the KDF's
	// cost, and failed opens are serialised, so that guessing stays slow
	// however many connections a guesser opens. Default 1s.
	WrongKeyDelay time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.KDF.Time == 0 {
		o.KDF.Time = DefaultKDF.Time
	}
	if o.KDF.Memory == 0 {
		o.KDF.Memory = DefaultKDF.Memory
	}
	if o.KDF.Threads == 0 {
		o.KDF.Threads = DefaultKDF.Threads
	}
	if o.WrongKeyDelay == 0 {
		o.WrongKeyDelay = time.Second
	}
}

// Vault is the encryption boundary of a PassMan store.
type Vault struct {
	st   *store.Store
	log  hclog.Logger
	opts Options

	// openMu serialises Open so that failed guesses cannot run in parallel.
	openMu sync.Mutex

	mu      sync.RWMutex
	dataKey []byte // nil while closed
}

// New returns the vault of st, closed.
func New(st *store.Store, log hclog.Logger, opts Options) *Vault {
	opts.EnsureDefaults()
	return &Vault{st: st, log: log, opts: opts}
}

type vaultMeta struct {
	Created time.Time `json:"created"`
	Version int       `json:"version"`
}

// Initialize creates the data key and the first vault key's slot in tx.
// Once tx commits, the vault is open. It fails if the store already holds
// a vault.
func (v *Vault) Initialize(tx *store.Tx, name string, key secret.Value) error {
	if ok, err := tx.Has(store.VaultKey()); err != nil || ok {
		return errors.Join(err, ErrInitialized)
	}
	dataKey := make([]byte, 32)
	_, _ = rand.Read(dataKey)
	if err := tx.Put(store.VaultKey(), vaultMeta{Created: time.Now().UTC(), Version: 1}); err != nil {
		return err
	}
	if err := v.putSlot(tx, name, key, dataKey); err != nil {
		return err
	}
	tx.OnCommit(func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		clear(v.dataKey)
		v.dataKey = dataKey
	})
	return nil
}

// Initialized reports whether the store holds a vault.
func (v *Vault) Initialized() (bool, error) {
	return v.st.Has(store.VaultKey())
}

// IsOpen reports whether the data key is in memory.
func (v *Vault) IsOpen() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.dataKey != nil
}

// Open unwraps the data key with key and returns the name of the slot that
// opened. A wrong key costs at least the KDF of every slot plus
// WrongKeyDelay, and returns ErrWrongKey.
func (v *Vault) Open(key secret.Value) (string, error) {
	v.openMu.Lock()
	defer v.openMu.Unlock()

	slots, err := v.slots()
	if err != nil {
		return "", err
	}
	if len(slots) == 0 {
		return "", ErrNotInitialized
	}
	for _, s := range slots {
		dataKey, err := unwrap(s, key)
		if err != nil {
			continue
		}
		v.mu.Lock()
		if v.dataKey != nil {
			clear(dataKey)
		} else {
			v.dataKey = dataKey
		}
		v.mu.Unlock()
		return s.Name, nil
	}
	time.Sleep(v.opts.WrongKeyDelay)
	return "", ErrWrongKey
}

// Close wipes the data key from memory. It is safe to call on a closed
// vault.
func (v *Vault) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.dataKey)
	v.dataKey = nil
}

// KeyNames lists the names of the vault keys, sorted.
func (v *Vault) KeyNames() ([]string, error) {
	slots, err := v.slots()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(slots))
	for _, s := range slots {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names, nil
}

// AddKey stages a slot for a new vault key in tx. The vault must be open.
func (v *Vault) AddKey(tx *store.Tx, name string, key secret.Value) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.dataKey == nil {
		return ErrClosed
	}
	if ok, err := tx.Has(store.SlotKey(name)); err != nil || ok {
		return errors.Join(err, ErrKeyExists)
	}
	return v.putSlot(tx, name, key, v.dataKey)
}

// RemoveKey stages the removal of a vault key's slot in tx. The last slot
// is never removed.
func (v *Vault) RemoveKey(tx *store.Tx, name string) error {
	if ok, err := tx.Has(store.SlotKey(name)); err != nil || !ok {
		return errors.Join(err, ErrNoKey)
	}
	n := 0
	err := tx.Scan(store.SlotPrefix(), func(_, _ []byte) error { n++; return nil })
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastKey
	}
	return tx.Delete(store.SlotKey(name))
}

func (v *Vault) slots() ([]*model.VaultKeySlot, error) {
	var out []*model.VaultKeySlot
	err := store.ScanJSON(v.st, store.SlotPrefix(), func(s *model.VaultKeySlot) error {
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading vault key slots: %w", err)
	}
	return out, nil
}

func (v *Vault) putSlot(tx *store.Tx, name string, key secret.Value, dataKey []byte) error {
	if len([]rune(string(key.Reveal()))) < MinKeyLength {
		return ErrShortKey
	}
	s := &model.VaultKeySlot{
		Name:    name,
		Created: time.Now().UTC(),
		Salt:    make([]byte, 16),
		Time:    v.opts.KDF.Time,
		Memory:  v.opts.KDF.Memory,
		Threads: v.opts.KDF.Threads,
	}
	_, _ = rand.Read(s.Salt)
	kek := deriveKEK(s, key)
	defer clear(kek)
	wrapped, err := seal(kek, slotAD(name), dataKey)
	if err != nil {
		return err
	}
	s.Wrapped = wrapped
	return tx.Put(store.SlotKey(name), s)
}

func deriveKEK(s *model.VaultKeySlot, key secret.Value) []byte {
	return argon2.IDKey(key.Reveal(), s.Salt, s.Time, s.Memory, s.Threads, 32)
}

func unwrap(s *model.VaultKeySlot, key secret.Value) ([]byte, error) {
	if s.Time == 0 || s.Memory == 0 || s.Threads == 0 {
		return nil, ErrBadSlot
	}
	kek := deriveKEK(s, key)
	defer clear(kek)
	return open(kek, slotAD(s.Name), s.Wrapped)
}

func slotAD(name string) []byte { return []byte("passman/v1 vault key slot " + name) }

// Seal encrypts plaintext under the data key, bound to ad.
func (v *Vault) Seal(ad []byte, plaintext secret.Value) ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.dataKey == nil {
		return nil, ErrClosed
	}
	return seal(v.dataKey, ad, plaintext.Reveal())
}

// Unseal decrypts a ciphertext made by Seal with the same ad.
func (v *Vault) Unseal(ad, ciphertext []byte) (secret.Value, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.dataKey == nil {
		return secret.Value{}, ErrClosed
	}
	b, err := open(v.dataKey, ad, ciphertext)
	if err != nil {
		return secret.Value{}, err
	}
	return secret.New(b), nil
}

// CredentialAD is the associated data that binds a sealed credential value
// to its account, credential type and version.
func CredentialAD(accountID string, t model.CredentialType, n uint64) []byte {
	return fmt.Appendf(nil, "passman/v1 credential %s %s %d", accountID, t, n)
}

func seal(key, ad, plaintext []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, ad), nil
}

// ErrCorrupt is returned when a ciphertext does not open: wrong key, wrong
// associated data, or altered bytes.
var ErrCorrupt = errors.New("ciphertext does not open")

func open(key, ad, ciphertext []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < aead.NonceSize() {
		return nil, ErrCorrupt
	}
	nonce, body := ciphertext[:aead.NonceSize()], ciphertext[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, body, ad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("making cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// GenerateKey returns a new random vault key: "pmvk-" and 32 base32
// characters (160 bits).
func GenerateKey() secret.Value {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	return secret.FromString("pmvk-" + enc)
}
