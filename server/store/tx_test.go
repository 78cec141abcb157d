package store_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/store"
)

// auditRecord returns an unlinked audit record told apart by detail.
func auditRecord(detail string) audit.Record {
	return audit.Record{Actor: "tester", Op: "test", Outcome: audit.OK, Detail: detail}
}

// readAudit returns every stored audit record in key order.
func readAudit(t *testing.T, st *store.Store) []audit.Record {
	t.Helper()
	var recs []audit.Record
	err := store.ScanJSON(st, store.AuditPrefix(), func(r *audit.Record) error {
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("reading audit records: %v", err)
	}
	return recs
}

// verifyChain checks every stored audit record, in key order, against the
// chain and the store's head, and returns how many there are.
func verifyChain(t *testing.T, st *store.Store) uint64 {
	t.Helper()
	var v audit.Verifier
	for _, r := range readAudit(t, st) {
		if err := v.Add(r); err != nil {
			t.Fatalf("verifying audit chain: %v", err)
		}
	}
	seq, hash := st.AuditHead()
	if err := v.Finish(seq, hash); err != nil {
		t.Fatalf("verifying audit chain: %v", err)
	}
	return v.Count()
}

func details(recs []audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Detail)
	}
	return out
}

func seqs(recs []audit.Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func TestAuditHeadOfNewStore(t *testing.T) {
	st := newStore(t)
	seq, hash := st.AuditHead()
	if seq != 0 || hash != nil {
		t.Errorf("AuditHead = %d, %x; want 0, nil", seq, hash)
	}
	if n := verifyChain(t, st); n != 0 {
		t.Errorf("new store holds %d audit records", n)
	}
}

func TestAuditChainAcrossUpdatesAndReopen(t *testing.T) {
	dir := t.TempDir()
	st, closeStore := openStore(t, dir)

	stamped := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 2*3600))
	mustUpdate(t, st, func(tx *store.Tx) error {
		tx.Audit(auditRecord("one"))
		r := auditRecord("two")
		r.Time = stamped
		tx.Audit(r)
		tx.Audit(auditRecord("three"))
		return nil
	})
	mustUpdate(t, st, func(tx *store.Tx) error {
		tx.Audit(auditRecord("four"))
		return nil
	})
	headSeq, headHash := st.AuditHead()
	mustUpdate(t, st, func(tx *store.Tx) error {
		return tx.PutRaw([]byte("n/x"), []byte("{}"))
	})
	if seq, hash := st.AuditHead(); seq != headSeq || !cmp.Equal(hash, headHash) {
		t.Errorf("an Update without audit records moved the head to %d", seq)
	}

	recs := readAudit(t, st)
	if diff := cmp.Diff(seqs(recs), []uint64{1, 2, 3, 4}); diff != "" {
		t.Errorf("sequence numbers (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(details(recs), []string{"one", "two", "three", "four"}); diff != "" {
		t.Errorf("records (-got +want):\n%s", diff)
	}
	for _, r := range recs {
		if r.Time.IsZero() {
			t.Errorf("record %d has no time", r.Seq)
		}
	}
	if !recs[1].Time.Equal(stamped) {
		t.Errorf("record 2 time = %v; want the given %v", recs[1].Time, stamped)
	}
	if headSeq != 4 || !cmp.Equal(headHash, recs[3].Hash) {
		t.Errorf("AuditHead = %d, %x; want 4, %x", headSeq, headHash, recs[3].Hash)
	}
	if n := verifyChain(t, st); n != 4 {
		t.Errorf("chain holds %d records; want 4", n)
	}
	closeStore()

	st, _ = openStore(t, dir)
	seq, hash := st.AuditHead()
	if seq != headSeq || !cmp.Equal(hash, headHash) {
		t.Fatalf("AuditHead after reopening = %d, %x; want %d, %x", seq, hash, headSeq, headHash)
	}
	mustUpdate(t, st, func(tx *store.Tx) error {
		tx.Audit(auditRecord("five"))
		return nil
	})
	recs = readAudit(t, st)
	if last := recs[len(recs)-1]; last.Seq != 5 || !cmp.Equal(last.Prev, headHash) {
		t.Errorf("record after reopening = seq %d prev %x; want seq 5 prev %x",
			last.Seq, last.Prev, headHash)
	}
	if n := verifyChain(t, st); n != 5 {
		t.Errorf("chain holds %d records; want 5", n)
	}
}

func TestConcurrentUpdatesChain(t *testing.T) {
	const workers, perWorker = 64, 50
	st := newStore(t)

	// A reader watches the head while the writers run; it must only grow.
	done := make(chan struct{})
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		var last uint64
		for {
			select {
			case <-done:
				return
			default:
			}
			seq, _ := st.AuditHead()
			if seq < last {
				t.Errorf("AuditHead went back from %d to %d", last, seq)
				return
			}
			last = seq
		}
	})

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%02d-%02d", w, i)
				err := st.Update(func(tx *store.Tx) error {
					if err := tx.Put(store.NodeKey(name), item{Name: name}); err != nil {
						return err
					}
					tx.Audit(auditRecord(name))
					return nil
				})
				if err != nil {
					t.Errorf("Update %s: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readerWG.Wait()

	const n = workers * perWorker
	recs := readAudit(t, st)
	wantSeqs := make([]uint64, n)
	for i := range wantSeqs {
		wantSeqs[i] = uint64(i + 1)
	}
	if diff := cmp.Diff(seqs(recs), wantSeqs); diff != "" {
		t.Fatalf("sequence numbers (-got +want):\n%s", diff)
	}
	if got := verifyChain(t, st); got != n {
		t.Errorf("chain holds %d records; want %d", got, n)
	}

	// Every write landed, and each worker's records are in its own order.
	var want []string
	for w := range workers {
		for i := range perWorker {
			want = append(want, fmt.Sprintf("w%02d-%02d", w, i))
		}
	}
	got := details(recs)
	byWorker := map[string][]string{}
	for _, d := range got {
		byWorker[d[:3]] = append(byWorker[d[:3]], d)
	}
	for w, ds := range byWorker {
		if !slices.IsSorted(ds) {
			t.Errorf("worker %s records out of its order: %v", w, ds)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("audited names (-got +want):\n%s", diff)
	}
	var nodes []string
	err := store.ScanJSON(st, []byte("n/"), func(it *item) error {
		nodes = append(nodes, it.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanJSON: %v", err)
	}
	if diff := cmp.Diff(nodes, want); diff != "" {
		t.Errorf("stored nodes (-got +want):\n%s", diff)
	}
}

// BenchmarkUpdateWithAudit commits one record and one audit record per
// Update. With many callers at once their WAL syncs are shared, so the
// parallel cases cost less per Update than the serial one.
func BenchmarkUpdateWithAudit(b *testing.B) {
	update := func(b *testing.B, st *store.Store, n *atomic.Uint64) {
		key := store.NodeKey(fmt.Sprintf("%016x", n.Add(1)))
		err := st.Update(func(tx *store.Tx) error {
			if err := tx.PutRaw(key, []byte(`{"name":"bench"}`)); err != nil {
				return err
			}
			tx.Audit(auditRecord("bench"))
			return nil
		})
		if err != nil {
			b.Error(err)
		}
	}

	b.Run("serial", func(b *testing.B) {
		st, _ := openStore(b, b.TempDir())
		var n atomic.Uint64
		for b.Loop() {
			update(b, st, &n)
		}
	})
	for _, par := range []int{4, 32} {
		b.Run(fmt.Sprintf("parallel-%dxGOMAXPROCS", par), func(b *testing.B) {
			st, _ := openStore(b, b.TempDir())
			var n atomic.Uint64
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					update(b, st, &n)
				}
			})
		})
	}
}
