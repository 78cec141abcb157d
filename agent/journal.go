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

	"github.com/passman-dev/passman/server/pki"
)

// journalKeep is how long past its deadline a job stays in the journal.
// Older jobs need no entry: the agent refuses them for their deadline.
const journalKeep = time.Hour

// journalMode is the mode of the journal file.
const journalMode = 0o600

// errJournalClosed is returned by add once the journal can no longer be
// written.
var errJournalClosed = errors.New("the job journal is closed")

// journal is the agent's durable record of the jobs it took: an
// append-only file with one JSON record per line, each synced to disk
// before the agent opens the job. A job id in the journal is never run
// again.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	size int64
	seen map[string]time.Time
}

// journalRecord is one line of the journal.
type journalRecord struct {
	JobID    string    `json:"job_id"`
	Deadline time.Time `json:"deadline"`
}

// openJournal loads the journal at path, drops the jobs whose deadline
// is more than journalKeep before now, rewrites the file with the rest
// and opens it for appending. A last line cut short by a crash is
// dropped: its job was never opened.
func openJournal(path string, now time.Time) (*journal, error) {
	recs, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	j := &journal{seen: make(map[string]time.Time, len(recs))}
	var buf bytes.Buffer
	for _, r := range recs {
		if _, dup := j.seen[r.JobID]; dup || now.Sub(r.Deadline) > journalKeep {
			continue
		}
		j.seen[r.JobID] = r.Deadline
		buf.Write(encodeRecord(r))
	}
	if err := pki.WriteFileAtomic(path, buf.Bytes(), journalMode); err != nil {
		return nil, fmt.Errorf("rewriting the job journal: %w", err)
	}
	j.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the job journal: %w", err)
	}
	j.size = int64(buf.Len())
	return j, nil
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

// add records a job and reports whether it is new. It returns only once
// the record is on disk. A job already in the journal is not written
// again and add returns false.
func (j *journal) add(jobID string, deadline time.Time) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.seen[jobID]; ok {
		return false, nil
	}
	if j.f == nil {
		return false, errJournalClosed
	}
	line := encodeRecord(journalRecord{JobID: jobID, Deadline: deadline.UTC()})
	if err := j.write(line); err != nil {
		return false, fmt.Errorf("writing to the job journal: %w", err)
	}
	j.seen[jobID] = deadline
	return true, nil
}

// write appends line and syncs it. On failure it cuts the file back to
// where it was, so that no half record stays between whole ones; when
// even that fails, it closes the journal for good.
func (j *journal) write(line []byte) error {
	_, err := j.f.Write(line)
	if err == nil {
		err = j.f.Sync()
	}
	if err == nil {
		j.size += int64(len(line))
		return nil
	}
	if terr := j.f.Truncate(j.size); terr != nil {
		_ = j.f.Close()
		j.f = nil
	}
	return err
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
