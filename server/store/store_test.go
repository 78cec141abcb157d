package store_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// errAbort is what test functions return to make an Update give up.
var errAbort = errors.New("abort")

// item is a small JSON record for tests.
type item struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// openStore opens the store in dir. It is closed when the test ends unless
// the returned function closed it first.
func openStore(t testing.TB, dir string) (*store.Store, func()) {
	t.Helper()
	st, err := store.Open(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	var once sync.Once
	closeStore := func() {
		once.Do(func() {
			if err := st.Close(); err != nil {
				t.Errorf("closing store: %v", err)
			}
		})
	}
	t.Cleanup(closeStore)
	return st, closeStore
}

// newStore opens a store in a fresh temporary directory.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, _ := openStore(t, t.TempDir())
	return st
}

// mustUpdate runs fn in an Update and fails the test if it returns an error.
func mustUpdate(t testing.TB, st *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := st.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// putRaw commits each key with its value in one Update.
func putRaw(t *testing.T, st *store.Store, kv map[string]string) {
	t.Helper()
	mustUpdate(t, st, func(tx *store.Tx) error {
		for k, v := range kv {
			if err := tx.PutRaw([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// dump returns every record of st, failing the test on error.
func dump(t *testing.T, st *store.Store, except ...[]byte) map[string]string {
	t.Helper()
	d, err := st.Dump(except...)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return d
}

// scanKeys returns the keys scan visits, in order.
func scanKeys(t *testing.T, scan func(fn func(k, v []byte) error) error) []string {
	t.Helper()
	var keys []string
	err := scan(func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("scanning: %v", err)
	}
	return keys
}

func TestUpdateIsDurable(t *testing.T) {
	dir := t.TempDir()
	st, closeStore := openStore(t, dir)

	want := map[string]item{
		"p/alpha": {Name: "alpha", Count: 1},
		"p/beta":  {Name: "beta", Count: 2},
		"u/carol": {Name: "carol", Count: 3},
	}
	mustUpdate(t, st, func(tx *store.Tx) error {
		for k, v := range want {
			if err := tx.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return tx.PutRaw([]byte("n/raw"), []byte("raw bytes"))
	})
	mustUpdate(t, st, func(tx *store.Tx) error { return tx.Delete([]byte("p/beta")) })
	delete(want, "p/beta")
	before := dump(t, st)
	closeStore()

	st, _ = openStore(t, dir)
	if diff := cmp.Diff(dump(t, st), before); diff != "" {
		t.Errorf("records after reopening differ (-got +want):\n%s", diff)
	}
	for k, w := range want {
		var got item
		if err := st.Get([]byte(k), &got); err != nil {
			t.Fatalf("Get(%s): %v", k, err)
		}
		if diff := cmp.Diff(got, w); diff != "" {
			t.Errorf("Get(%s) (-got +want):\n%s", k, diff)
		}
	}
	if ok, err := st.Has([]byte("p/beta")); err != nil || ok {
		t.Errorf("Has(p/beta) after delete = %v, %v; want false, nil", ok, err)
	}
}

func TestUpdateNothingStaged(t *testing.T) {
	st := newStore(t)
	before := dump(t, st)
	mustUpdate(t, st, func(*store.Tx) error { return nil })
	if diff := cmp.Diff(dump(t, st), before); diff != "" {
		t.Errorf("empty Update changed the store (-got +want):\n%s", diff)
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(tx *store.Tx) error
		wantErr error // nil: any error
	}{
		{
			name: "put then error",
			fn: func(tx *store.Tx) error {
				if err := tx.Put(store.PolicyKey("new"), item{Name: "new"}); err != nil {
					return err
				}
				return errAbort
			},
			wantErr: errAbort,
		},
		{
			name: "overwrite then error",
			fn: func(tx *store.Tx) error {
				if err := tx.PutRaw(store.UserKey("alice"), []byte(`{}`)); err != nil {
					return err
				}
				return errAbort
			},
			wantErr: errAbort,
		},
		{
			name: "delete then error",
			fn: func(tx *store.Tx) error {
				if err := tx.Delete(store.UserKey("alice")); err != nil {
					return err
				}
				return errAbort
			},
			wantErr: errAbort,
		},
		{
			name: "audit then error",
			fn: func(tx *store.Tx) error {
				tx.Audit(auditRecord("refused"))
				return errAbort
			},
			wantErr: errAbort,
		},
		{
			name: "wrapped error",
			fn: func(tx *store.Tx) error {
				_ = tx.PutRaw(store.JobKey("j1"), []byte(`{}`))
				return errors.Join(errors.New("validating job"), errAbort)
			},
			wantErr: errAbort,
		},
		{
			name: "value that does not encode",
			fn: func(tx *store.Tx) error {
				_ = tx.PutRaw(store.JobKey("j2"), []byte(`{}`))
				return tx.Put(store.JobKey("j3"), make(chan int))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			putRaw(t, st, map[string]string{string(store.UserKey("alice")): `{"name":"alice"}`})
			mustUpdate(t, st, func(tx *store.Tx) error {
				tx.Audit(auditRecord("first"))
				return nil
			})
			before := dump(t, st)
			seq, hash := st.AuditHead()

			err := st.Update(tc.fn)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Update = %v; want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(dump(t, st), before); diff != "" {
				t.Errorf("failed Update changed the store (-got +want):\n%s", diff)
			}
			gotSeq, gotHash := st.AuditHead()
			if gotSeq != seq || !cmp.Equal(gotHash, hash) {
				t.Errorf("AuditHead = %d, %x; want %d, %x", gotSeq, gotHash, seq, hash)
			}

			// The next audit record follows on without a gap.
			mustUpdate(t, st, func(tx *store.Tx) error {
				tx.Audit(auditRecord("after"))
				return nil
			})
			if n := verifyChain(t, st); n != 2 {
				t.Errorf("chain holds %d records; want 2", n)
			}
		})
	}
}

func TestTxReadsStagedWrites(t *testing.T) {
	st := newStore(t)
	putRaw(t, st, map[string]string{
		"p/committed": `{"name":"committed"}`,
		"p/doomed":    `{"name":"doomed"}`,
	})

	mustUpdate(t, st, func(tx *store.Tx) error {
		if err := tx.Put([]byte("p/staged"), item{Name: "staged", Count: 7}); err != nil {
			return err
		}
		if err := tx.Put([]byte("p/committed"), item{Name: "changed"}); err != nil {
			return err
		}
		if err := tx.Delete([]byte("p/doomed")); err != nil {
			return err
		}

		var got item
		if err := tx.Get([]byte("p/staged"), &got); err != nil {
			t.Errorf("tx.Get(p/staged): %v", err)
		}
		if diff := cmp.Diff(got, item{Name: "staged", Count: 7}); diff != "" {
			t.Errorf("tx.Get(p/staged) (-got +want):\n%s", diff)
		}
		if err := tx.Get([]byte("p/committed"), &got); err != nil || got.Name != "changed" {
			t.Errorf("tx.Get(p/committed) = %+v, %v; want the staged value", got, err)
		}
		if err := tx.Get([]byte("p/doomed"), &got); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tx.Get(p/doomed) = %v; want ErrNotFound", err)
		}
		if ok, err := tx.Has([]byte("p/doomed")); err != nil || ok {
			t.Errorf("tx.Has(p/doomed) = %v, %v; want false", ok, err)
		}
		if ok, err := tx.Has([]byte("p/staged")); err != nil || !ok {
			t.Errorf("tx.Has(p/staged) = %v, %v; want true", ok, err)
		}
		keys := scanKeys(t, func(fn func(k, v []byte) error) error {
			return tx.Scan(store.PolicyPrefix(), fn)
		})
		if diff := cmp.Diff(keys, []string{"p/committed", "p/staged"}); diff != "" {
			t.Errorf("tx.Scan (-got +want):\n%s", diff)
		}

		// Nothing staged is visible outside the Tx before it commits.
		if ok, err := st.Has([]byte("p/staged")); err != nil || ok {
			t.Errorf("Store.Has(p/staged) inside Update = %v, %v; want false", ok, err)
		}
		if ok, err := st.Has([]byte("p/doomed")); err != nil || !ok {
			t.Errorf("Store.Has(p/doomed) inside Update = %v, %v; want true", ok, err)
		}
		return nil
	})

	keys := scanKeys(t, func(fn func(k, v []byte) error) error {
		return st.Scan(store.PolicyPrefix(), fn)
	})
	if diff := cmp.Diff(keys, []string{"p/committed", "p/staged"}); diff != "" {
		t.Errorf("Scan after commit (-got +want):\n%s", diff)
	}
}

func TestGet(t *testing.T) {
	st := newStore(t)
	putRaw(t, st, map[string]string{
		"p/good": `{"name":"good","count":3}`,
		"p/bad":  `not json`,
	})
	tests := []struct {
		name         string
		key          string
		want         item
		wantErr      bool
		wantNotFound bool
	}{
		{name: "present", key: "p/good", want: item{Name: "good", Count: 3}},
		{name: "missing", key: "p/none", wantErr: true, wantNotFound: true},
		{name: "prefix of a key", key: "p/goo", wantErr: true, wantNotFound: true},
		{name: "not json", key: "p/bad", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got item
			err := st.Get([]byte(tc.key), &got)
			if (err != nil) != tc.wantErr || errors.Is(err, store.ErrNotFound) != tc.wantNotFound {
				t.Fatalf("Get = %v; want error %v, not found %v", err, tc.wantErr, tc.wantNotFound)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Get (-got +want):\n%s", diff)
			}
			ok, err := st.Has([]byte(tc.key))
			if err != nil || ok == tc.wantNotFound {
				t.Errorf("Has = %v, %v; want %v", ok, err, !tc.wantNotFound)
			}
		})
	}
}

// scanSeed holds keys chosen so that a careless prefix scan would cross
// from one parent's children into another's.
var scanSeed = map[string]string{
	"c/ab/w":           "1",
	"c/abc":            "2",
	"c/abc/x":          "3",
	"c/abc/y":          "4",
	"c/abcd/z":         "5",
	"c/abc0/q":         "6",
	"d/abc/x":          "7",
	"b/zzz":            "8",
	"x\xff":            "9",
	"x\xff\x00":        "10",
	"x\xff\xff\xff":    "11",
	"y":                "12",
	"\xff\xff":         "13",
	"\xff\xff\xff\xff": "14",
}

func TestScanPrefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
		want   []string
	}{
		{
			name:   "one parent",
			prefix: store.ChildPrefix("abc"),
			want:   []string{"c/abc/x", "c/abc/y"},
		},
		{name: "shorter parent", prefix: store.ChildPrefix("ab"), want: []string{"c/ab/w"}},
		{name: "longer parent", prefix: store.ChildPrefix("abcd"), want: []string{"c/abcd/z"}},
		{name: "no children", prefix: store.ChildPrefix("none")},
		{
			name:   "whole table",
			prefix: []byte("c/"),
			want:   []string{"c/ab/w", "c/abc", "c/abc/x", "c/abc/y", "c/abc0/q", "c/abcd/z"},
		},
		{
			name:   "prefix ending in 0xff",
			prefix: []byte("x\xff"),
			want:   []string{"x\xff", "x\xff\x00", "x\xff\xff\xff"},
		},
		{
			name:   "prefix of only 0xff",
			prefix: []byte("\xff\xff"),
			want:   []string{"\xff\xff", "\xff\xff\xff\xff"},
		},
		{
			name:   "everything",
			prefix: nil,
			want: []string{
				"b/zzz", "c/ab/w", "c/abc", "c/abc/x", "c/abc/y", "c/abc0/q",
				"c/abcd/z", "d/abc/x", "x\xff", "x\xff\x00", "x\xff\xff\xff", "y",
				"\xff\xff", "\xff\xff\xff\xff",
			},
		},
	}

	committed := newStore(t)
	putRaw(t, committed, scanSeed)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scanKeys(t, func(fn func(k, v []byte) error) error {
				return committed.Scan(tc.prefix, fn)
			})
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Store.Scan (-got +want):\n%s", diff)
			}

			// The same holds for keys only staged in a Tx.
			staged := newStore(t)
			err := staged.Update(func(tx *store.Tx) error {
				for k, v := range scanSeed {
					if err := tx.PutRaw([]byte(k), []byte(v)); err != nil {
						return err
					}
				}
				got := scanKeys(t, func(fn func(k, v []byte) error) error {
					return tx.Scan(tc.prefix, fn)
				})
				if diff := cmp.Diff(got, tc.want); diff != "" {
					t.Errorf("Tx.Scan (-got +want):\n%s", diff)
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Update = %v; want errAbort", err)
			}
		})
	}
}

func TestScanValues(t *testing.T) {
	st := newStore(t)
	putRaw(t, st, scanSeed)
	got := map[string]string{}
	err := st.Scan(store.ChildPrefix("abc"), func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := map[string]string{"c/abc/x": "3", "c/abc/y": "4"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Scan values (-got +want):\n%s", diff)
	}
}

func TestScanFrom(t *testing.T) {
	st := newStore(t)
	seed := map[string]string{}
	for _, acct := range []string{"a1", "a2"} {
		for n := uint64(1); n <= 20; n += 3 {
			seed[string(store.VersionKey(acct, model.Password, n))] = "{}"
		}
		seed[string(store.VersionKey(acct, model.PIN, 1))] = "{}"
	}
	putRaw(t, st, seed)

	prefix := store.VersionPrefix("a1", model.Password)
	versions := func(ns ...uint64) []string {
		var out []string
		for _, n := range ns {
			out = append(out, string(store.VersionKey("a1", model.Password, n)))
		}
		return out
	}
	tests := []struct {
		name  string
		start []byte
		want  []string
	}{
		{name: "nil start", start: nil, want: versions(1, 4, 7, 10, 13, 16, 19)},
		{name: "at prefix", start: prefix, want: versions(1, 4, 7, 10, 13, 16, 19)},
		{name: "before prefix", start: []byte("a"), want: versions(1, 4, 7, 10, 13, 16, 19)},
		{
			name:  "key of the other account before",
			start: store.VersionKey("a0", model.Password, 99),
			want:  versions(1, 4, 7, 10, 13, 16, 19),
		},
		{
			name:  "at a key",
			start: store.VersionKey("a1", model.Password, 10),
			want:  versions(10, 13, 16, 19),
		},
		{
			name:  "between keys",
			start: store.VersionKey("a1", model.Password, 11),
			want:  versions(13, 16, 19),
		},
		{name: "last key", start: store.VersionKey("a1", model.Password, 19), want: versions(19)},
		{name: "past last key", start: store.VersionKey("a1", model.Password, 20)},
		{name: "past prefix", start: store.VersionKey("a2", model.Password, 1)},
		{name: "far past prefix", start: []byte("\xff")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scanKeys(t, func(fn func(k, v []byte) error) error {
				return st.ScanFrom(prefix, tc.start, fn)
			})
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("ScanFrom (-got +want):\n%s", diff)
			}
		})
	}
}

func TestScanStops(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		stopAt   int // number of the call that returns ret
		ret      error
		wantErr  error
		wantSeen int
	}{
		{name: "ErrStop at first", stopAt: 1, ret: store.ErrStop, wantSeen: 1},
		{name: "ErrStop midway", stopAt: 3, ret: store.ErrStop, wantSeen: 3},
		{
			name:     "wrapped ErrStop",
			stopAt:   2,
			ret:      errors.Join(errors.New("enough"), store.ErrStop),
			wantSeen: 2,
		},
		{name: "other error", stopAt: 2, ret: errBoom, wantErr: errBoom, wantSeen: 2},
		{name: "no stop", stopAt: 0, wantSeen: 6},
	}
	st := newStore(t)
	putRaw(t, st, scanSeed)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := 0
			err := st.Scan([]byte("c/"), func(_, _ []byte) error {
				seen++
				if seen == tc.stopAt {
					return tc.ret
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Scan = %v; want %v", err, tc.wantErr)
			}
			if seen != tc.wantSeen {
				t.Errorf("Scan called fn %d times; want %d", seen, tc.wantSeen)
			}
		})
	}
}

func TestScanJSON(t *testing.T) {
	st := newStore(t)
	mustUpdate(t, st, func(tx *store.Tx) error {
		for i, name := range []string{"gamma", "alpha", "beta"} {
			if err := tx.Put(store.PolicyKey(name), item{Name: name, Count: i}); err != nil {
				return err
			}
		}
		return tx.Put(store.UserKey("alpha"), item{Name: "user"})
	})

	t.Run("all in key order", func(t *testing.T) {
		var got []item
		err := store.ScanJSON(st, store.PolicyPrefix(), func(it *item) error {
			got = append(got, *it)
			return nil
		})
		if err != nil {
			t.Fatalf("ScanJSON: %v", err)
		}
		want := []item{{"alpha", 1}, {"beta", 2}, {"gamma", 0}}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("ScanJSON (-got +want):\n%s", diff)
		}
	})
	t.Run("stop", func(t *testing.T) {
		var got []string
		err := store.ScanJSON(st, store.PolicyPrefix(), func(it *item) error {
			got = append(got, it.Name)
			return store.ErrStop
		})
		if err != nil {
			t.Fatalf("ScanJSON: %v", err)
		}
		if diff := cmp.Diff(got, []string{"alpha"}); diff != "" {
			t.Errorf("ScanJSON (-got +want):\n%s", diff)
		}
	})
	t.Run("record that does not decode", func(t *testing.T) {
		putRaw(t, st, map[string]string{"p/broken": "{"})
		t.Cleanup(func() {
			mustUpdate(t, st, func(tx *store.Tx) error { return tx.Delete([]byte("p/broken")) })
		})
		err := store.ScanJSON(st, store.PolicyPrefix(), func(*item) error { return nil })
		if err == nil {
			t.Fatal("ScanJSON over a broken record succeeded")
		}
	})
}

func TestDump(t *testing.T) {
	st := newStore(t)
	putRaw(t, st, map[string]string{
		"m/vault":      "v",
		"m/slot/first": "s",
		"A/01":         "a1",
		"A/02":         "a2",
		"n/1":          "n",
		"j/1":          "j",
	})
	all := map[string]string{
		"m/vault": "v", "m/slot/first": "s", "A/01": "a1", "A/02": "a2", "n/1": "n", "j/1": "j",
	}
	tests := []struct {
		name   string
		except [][]byte
		want   map[string]string
	}{
		{name: "nothing excepted", want: all},
		{
			name:   "audit excepted",
			except: [][]byte{store.AuditPrefix()},
			want:   map[string]string{"m/vault": "v", "m/slot/first": "s", "n/1": "n", "j/1": "j"},
		},
		{
			name:   "several prefixes",
			except: [][]byte{store.AuditPrefix(), store.SlotPrefix(), store.JobPrefix()},
			want:   map[string]string{"m/vault": "v", "n/1": "n"},
		},
		{
			name:   "one exact key",
			except: [][]byte{store.VaultKey()},
			want: map[string]string{
				"m/slot/first": "s", "A/01": "a1", "A/02": "a2", "n/1": "n", "j/1": "j",
			},
		},
		{name: "prefix matching nothing", except: [][]byte{[]byte("zz/")}, want: all},
		{name: "empty prefix matches all", except: [][]byte{{}}, want: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(dump(t, st, tc.except...), tc.want); diff != "" {
				t.Errorf("Dump (-got +want):\n%s", diff)
			}
		})
	}
}
