package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/store"
)

// openVault returns a new store with a vault created and open.
func openVault(t *testing.T) (*store.Store, *Vault) {
	t.Helper()
	st, err := store.Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	v := New(st, hclog.NewNullLogger(), Options{
		KDF:           KDF{Time: 1, Memory: 8 * 1024, Threads: 1},
		WrongKeyDelay: 10 * time.Millisecond,
	})
	err = st.Update(func(tx *store.Tx) error {
		return v.Initialize(tx, "first", secret.FromString("correct horse battery staple"))
	})
	if err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	return st, v
}

func (v *Vault) currentDataKey() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.dataKey
}

func TestCloseWipesDataKey(t *testing.T) {
	_, v := openVault(t)
	key := v.currentDataKey()
	if len(key) != 32 || bytes.Equal(key, make([]byte, 32)) {
		t.Fatalf("data key = %x; want 32 random bytes", key)
	}
	v.Close()
	if !bytes.Equal(key, make([]byte, 32)) {
		t.Errorf("data key after Close = %x; want zeros", key)
	}
	if v.currentDataKey() != nil {
		t.Error("vault holds a data key after Close")
	}
}

func TestOpenOnOpenVaultKeepsDataKey(t *testing.T) {
	_, v := openVault(t)
	key := v.currentDataKey()
	want := bytes.Clone(key)
	if _, err := v.Open(secret.FromString("correct horse battery staple")); err != nil {
		t.Fatalf("Open: %v", err)
	}
	got := v.currentDataKey()
	if &got[0] != &key[0] || !bytes.Equal(got, want) {
		t.Errorf("Open on an open vault replaced the data key")
	}
}

func TestDataKeyNotStoredInClear(t *testing.T) {
	st, v := openVault(t)
	key := v.currentDataKey()
	d, err := st.Dump()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	forms := []string{
		string(key),
		hex.EncodeToString(key),
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
	}
	for k, val := range d {
		for _, f := range forms {
			if strings.Contains(val, f) {
				t.Errorf("record %s holds the data key", k)
			}
		}
	}
}
