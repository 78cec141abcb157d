package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/wire"
)

// add reserves one job and waits for its record's sync, as the agent
// does for the jobs of a message, and reports whether the job is new.
func (j *journal) add(jobID string, deadline time.Time) (bool, error) {
	fresh, synced, err := j.reserve([]wire.JobHeader{{JobID: jobID, Deadline: deadline}})
	if err != nil {
		return false, err
	}
	if err := synced(); err != nil {
		return false, err
	}
	return fresh[0], nil
}

func TestJournalRecordsAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalFile)
	now := time.Now()
	j, err := openJournal(path, now)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		jobID    string
		deadline time.Time
		fresh    bool
	}{
		{"j1", now.Add(time.Minute), true},
		{"j2", now.Add(-2 * journalKeep), true},
		{"j1", now.Add(time.Minute), false},
		{"j3\n{\"job_id\":\"j4\"}", now.Add(time.Minute), true},
	}
	for _, s := range steps {
		fresh, err := j.add(s.jobID, s.deadline)
		if err != nil || fresh != s.fresh {
			t.Fatalf("add(%q) = %v, %v; want %v", s.jobID, fresh, err, s.fresh)
		}
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}

	j, err = openJournal(path, now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	for _, tc := range []struct {
		jobID string
		fresh bool
	}{
		{"j1", false},                      // kept across the restart
		{"j3\n{\"job_id\":\"j4\"}", false}, // an odd id stays one record
		{"j4", true},                       // and injected nothing
		{"j2", true},                       // pruned: long past its deadline
	} {
		if fresh, err := j.add(tc.jobID, now.Add(time.Minute)); err != nil || fresh != tc.fresh {
			t.Errorf("after reopening, add(%q) = %v, %v; want %v", tc.jobID, fresh, err, tc.fresh)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != journalMode {
		t.Errorf("journal mode = %v, %v", fi.Mode(), err)
	}
}

func TestJournalDamage(t *testing.T) {
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	good := `{"job_id":"j1","deadline":"` + soon + `"}`
	cases := []struct {
		name    string
		content string
		want    error
		kept    bool
	}{
		{"whole records", good + "\n", nil, true},
		{"torn last record", good + "\n" + `{"job_id":"j9","dead`, nil, true},
		{"damaged record", good + "\n" + "garbage\n", ErrJournalDamaged, false},
		{"record without a job id", `{"deadline":"` + soon + `"}` + "\n", ErrJournalDamaged, false},
		{"empty file", "", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), journalFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := openJournal(path, time.Now())
			if !errors.Is(err, tc.want) {
				t.Fatalf("openJournal = %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			defer j.close()
			if fresh, _ := j.add("j1", time.Now().Add(time.Minute)); fresh == tc.kept {
				t.Errorf("j1 kept = %v, want %v", !fresh, tc.kept)
			}
			b, _ := os.ReadFile(path)
			if strings.Contains(string(b), "j9") {
				t.Errorf("the torn record was kept: %q", b)
			}
		})
	}
}

func TestJournalCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalFile)
	now := time.Now()
	j, err := openJournal(path, now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	j.compactAfter = 3
	old, live := now.Add(-2*journalKeep), now.Add(time.Minute)
	for i, deadline := range []time.Time{old, live, old, live} {
		if _, err := j.add(fmt.Sprintf("j%d", i), deadline); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := readJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.JobID)
	}
	slices.Sort(ids)
	if want := []string{"j1", "j3"}; !slices.Equal(ids, want) {
		t.Errorf("after compaction the journal holds %v, want %v", ids, want)
	}
	if fresh, err := j.add("j1", now); fresh || err != nil {
		t.Errorf("add of a kept job after compaction = %v, %v", fresh, err)
	}
}

// TestJournalReserve takes jobs in memory before their sync: a job
// reserved is taken at once, by this agent's other deliveries too, and a
// job whose sync failed is free again.
func TestJournalReserve(t *testing.T) {
	j, err := openJournal(filepath.Join(t.TempDir(), journalFile), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	deadline := time.Now().Add(time.Minute)
	jobs := []wire.JobHeader{{JobID: "j1", Deadline: deadline}, {JobID: "j2", Deadline: deadline}}
	fresh, synced, err := j.reserve(jobs)
	if err != nil || !slices.Equal(fresh, []bool{true, true}) {
		t.Fatalf("reserve = %v, %v", fresh, err)
	}
	again, _, err := j.reserve(jobs[:1])
	if err != nil || again[0] {
		t.Errorf("a job reserved but not yet synced is new again: %v, %v", again, err)
	}
	if err := synced(); err != nil {
		t.Fatalf("synced = %v", err)
	}

	// Break the file under the journal: the next sync fails.
	_ = j.f.Close()
	fresh, synced, err = j.reserve([]wire.JobHeader{{JobID: "j3", Deadline: deadline}})
	if err != nil || !fresh[0] {
		t.Fatalf("reserve = %v, %v", fresh, err)
	}
	if err := synced(); err == nil {
		t.Fatal("a sync to a closed file succeeded")
	}
	j.mu.Lock()
	_, kept := j.seen["j3"]
	j.mu.Unlock()
	if kept {
		t.Error("a job whose sync failed is still taken")
	}
	if _, _, err := j.reserve([]wire.JobHeader{{JobID: "j4", Deadline: deadline}}); err == nil {
		t.Error("a broken journal takes more jobs")
	}
}
