package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/pki"
)

// journalKeep is how long past its deadline a job stays in the journal.
// Older jobs need no entry: the agent refuses them for their deadline.
const journalKeep = time.Hour

// journalMode is the mode of the journal file.
const journalMode = 0o600

// compactEvery is how many records the journal appends between two
// compactions, which bound its size on disk and in memory.
const compactEvery = 4096

// errJournalClosed is returned by add once the journal can no longer be
// written.
var errJournalClosed = errors.New("the job journal is closed")

// journal is the agent's durable record of the jobs it took: an
// append-only file with one JSON record per line, each synced to disk
// before the agent opens the job. A job id in the journal is never run
// again.
type journal struct {
	path         string
	compactAfter int

	mu       sync.Mutex
	f        *os.File
	size     int64
	appended int
	seen     map[string]time.Time

	// Group commit: records wait in pending for the next sync. Batches
	// are numbered; filling is the batch being filled, synced the number
	// below which every batch is on disk, and failed the errors of the
	// latest failed batches.
	cond       *sync.Cond
	pending    [][]byte
	pendingIDs []string
	filling    uint64
	synced     uint64
	flushing   bool
	failed     map[uint64]error
}

// journalRecord is one line of the journal.
type journalRecord struct {
	JobID    string    `json:"job_id"`
	Deadline time.Time `json:"deadline"`
}

// openJournal loads the journal at path and compacts it as of now. A
// last line cut short by a crash is dropped: its job was never opened.
func openJournal(path string, now time.Time) (*journal, error) {
	recs, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	j := &journal{path: path, compactAfter: compactEvery, failed: map[uint64]error{}}
	j.cond = sync.NewCond(&j.mu)
	j.seen = make(map[string]time.Time, len(recs))
	for _, r := range recs {
		if _, dup := j.seen[r.JobID]; !dup {
			j.seen[r.JobID] = r.Deadline
		}
	}
	if err := j.compact(now); err != nil {
		return nil, err
	}
	return j, nil
}

// compact drops the jobs whose deadline is more than journalKeep before
// now, rewrites the file atomically with the rest and opens it for
// appending.
func (j *journal) compact(now time.Time) error {
	var buf bytes.Buffer
	for id, deadline := range j.seen {
		if now.Sub(deadline) > journalKeep {
			delete(j.seen, id)
			continue
		}
		buf.Write(encodeRecord(journalRecord{JobID: id, Deadline: deadline.UTC()}))
	}
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if err := pki.WriteFileAtomic(j.path, buf.Bytes(), journalMode); err != nil {
		return fmt.Errorf("rewriting the job journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening the job journal: %w", err)
	}
	j.f, j.size, j.appended = f, int64(buf.Len()), 0
	return nil
}

// readJournal decodes the records of the journal at path, none when the
// file does not exist.
func readJournal(path string) ([]journalRecord, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the job journal: %w", err)
	}
	lines := bytes.Split(b, []byte("\n"))
	// The last piece follows the last newline: empty, or a torn record.
	lines = lines[:len(lines)-1]
	recs := make([]journalRecord, 0, len(lines))
	for i, line := range lines {
		var r journalRecord
		if err := json.Unmarshal(line, &r); err != nil || r.JobID == "" {
			return nil, fmt.Errorf("%w: line %d", ErrJournalDamaged, i+1)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// encodeRecord returns r as one line.
func encodeRecord(r journalRecord) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("agent: encoding journal record: %v", err))
	}
	return append(b, '\n')
}

// reserve records jobs in memory and reports at once, for each, whether
// it is new; the new ones are written with the next sync, and synced
// waits for it. A job reserved is not new to anyone after, even before it
// is on disk. Records reserved while another batch is being synced share
// the next sync (group commit). When the sync fails, synced says so and
// the jobs are forgotten again.
func (j *journal) reserve(jobs []wire.JobHeader) (fresh []bool, synced func() error, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil, nil, errJournalClosed
	}
	fresh = make([]bool, len(jobs))
	added := false
	for i, h := range jobs {
		if _, ok := j.seen[h.JobID]; ok {
			continue
		}
		j.seen[h.JobID] = h.Deadline
		j.pending = append(j.pending,
			encodeRecord(journalRecord{JobID: h.JobID, Deadline: h.Deadline.UTC()}))
		j.pendingIDs = append(j.pendingIDs, h.JobID)
		fresh[i], added = true, true
	}
	if !added {
		return fresh, func() error { return nil }, nil
	}
	mine := j.filling
	return fresh, func() error { return j.waitSynced(mine) }, nil
}

// waitSynced waits until batch mine is on disk, flushing it when no other
// flush is under way, and returns the batch's error.
func (j *journal) waitSynced(mine uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.synced <= mine {
		if j.flushing {
			j.cond.Wait()
			continue
		}
		j.flush()
	}
	if err := j.failed[mine]; err != nil {
		return fmt.Errorf("writing to the job journal: %w", err)
	}
	return nil
}

// flush writes and syncs the batch being filled, with j.mu held on entry
// and exit but released during the write, and wakes its waiters.
func (j *journal) flush() {
	j.flushing = true
	batch, lines, ids := j.filling, bytes.Join(j.pending, nil), j.pendingIDs
	j.filling++
	j.pending, j.pendingIDs = nil, nil
	j.mu.Unlock()
	broken, err := j.write(lines)
	j.mu.Lock()
	if broken {
		_ = j.f.Close()
		j.f = nil
	}
	if err != nil {
		for _, id := range ids {
			delete(j.seen, id)
		}
		j.failed[batch] = err
	}
	delete(j.failed, batch-min(batch, 64))
	j.synced = batch + 1
	if j.appended += len(ids); err == nil && j.appended >= j.compactAfter {
		// The records are on disk already. Should compacting fail, the
		// journal is closed and every later add says so, until a restart
		// rebuilds it.
		_ = j.compact(time.Now())
	}
	j.flushing = false
	j.cond.Broadcast()
}

// write appends lines and syncs them. On failure it cuts the file back to
// where it was, so that no half record stays between whole ones, and
// reports whether even that failed and the journal must close. Only the
// flushing add calls it, without j.mu.
func (j *journal) write(lines []byte) (broken bool, err error) {
	_, err = j.f.Write(lines)
	if err == nil {
		err = j.f.Sync()
	}
	if err == nil {
		j.size += int64(len(lines))
		return false, nil
	}
	return j.f.Truncate(j.size) != nil, err
}

// len returns how many jobs the journal holds.
func (j *journal) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.seen)
}

// close closes the journal file.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
