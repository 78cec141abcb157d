package store_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

func TestNumberedKeysSortByNumber(t *testing.T) {
	numbers := []uint64{0, 1, 9, 10, 15, 16, 255, 256, 1 << 32, 1<<64 - 1}
	tests := []struct {
		name   string
		key    func(n uint64) []byte
		prefix []byte
	}{
		{name: "audit", key: store.AuditKey, prefix: store.AuditPrefix()},
		{
			name: "version",
			key: func(n uint64) []byte {
				return store.VersionKey("acct", model.Password, n)
			},
			prefix: store.VersionPrefix("acct", model.Password),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var keys [][]byte
			for _, n := range numbers {
				k := tc.key(n)
				if !bytes.HasPrefix(k, tc.prefix) {
					t.Errorf("key %q lacks prefix %q", k, tc.prefix)
				}
				keys = append(keys, k)
			}
			if !slices.IsSortedFunc(keys, bytes.Compare) {
				t.Errorf("keys do not sort by number: %q", keys)
			}
		})
	}
}

func TestPrefixesDoNotOverlap(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		outside []byte
	}{
		{name: "child", key: store.ChildKey("ab", "x"), outside: store.ChildPrefix("a")},
		{
			name:    "credential",
			key:     store.CredentialKey("ab", model.PIN),
			outside: store.CredentialPrefix("a"),
		},
		{name: "grant", key: store.GrantKey("ab", "bob"), outside: store.GrantPrefix("a")},
		{
			name:    "user token",
			key:     store.UserTokenKey("ab", []byte{1}),
			outside: store.UserTokenPrefix("a"),
		},
		{
			name:    "version",
			key:     store.VersionKey("a", model.SSHKey, 1),
			outside: store.VersionPrefix("a", model.CredentialType("ssh")),
		},
		{
			name:    "version of another account",
			key:     store.VersionKey("ab", model.PIN, 1),
			outside: store.VersionPrefix("a", model.PIN),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.HasPrefix(tc.key, tc.outside) {
				t.Errorf("key %q falls under prefix %q", tc.key, tc.outside)
			}
		})
	}
}
