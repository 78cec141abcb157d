package store

import (
	"testing"

	json "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/server/model"
)

// TestWriteThroughCache writes records of a cached table and reads them
// back: each read sees the last committed write, whether it comes from
// the cache or from Pebble, and what a writer does to its struct after
// Put or after a failed Update never shows.
func TestWriteThroughCache(t *testing.T) {
	s, err := Open(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key := NodeKey("n1")
	read := func(t *testing.T) *model.Node {
		t.Helper()
		n := new(model.Node)
		if err := s.Get(key, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	put := func(t *testing.T, n *model.Node) {
		t.Helper()
		if err := s.Update(func(tx *Tx) error { return tx.Put(key, n) }); err != nil {
			t.Fatal(err)
		}
	}

	first := &model.Node{ID: "n1", Name: "web01", Address: "10.0.0.1"}
	put(t, first)
	first.Name = "changed after the write"
	if got := read(t); got.Name != "web01" {
		t.Errorf("after a write, Name = %q, want web01", got.Name)
	}

	put(t, &model.Node{ID: "n1", Name: "web02"})
	if got := read(t); got.Name != "web02" || got.Address != "" {
		t.Errorf("after a second write, node = %+v", got)
	}

	// A Put followed by PutRaw of the same key caches nothing stale.
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put(key, &model.Node{ID: "n1", Name: "staged"}); err != nil {
			return err
		}
		return tx.PutRaw(key, []byte(`{"id":"n1","name":"raw"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t); got.Name != "raw" {
		t.Errorf("after Put then PutRaw, Name = %q, want raw", got.Name)
	}

	// A write that fails leaves the cache as it was.
	_ = s.Update(func(tx *Tx) error {
		_ = tx.Put(key, &model.Node{ID: "n1", Name: "never"})
		return ErrStop
	})
	if got := read(t); got.Name != "raw" {
		t.Errorf("after a failed write, Name = %q, want raw", got.Name)
	}

	// The cache and Pebble agree.
	var raw model.Node
	b, err := s.rawGet(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(read(t), &raw); diff != "" {
		t.Errorf("cache and Pebble differ (-cache +pebble):\n%s", diff)
	}
}
