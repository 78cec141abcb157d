package service

import (
	"context"
	"sync"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
)

// maxJobWait bounds how long one request may wait for a job.
const maxJobWait = 50 * time.Second

// waiters wakes the requests waiting for jobs to end.
type waiters struct {
	mu sync.Mutex
	m  map[string][]*waiter
}

// waiter is one request waiting for a job.
type waiter struct {
	// ch is closed when the job ends.
	ch chan struct{}
	// end is the job and its account as the write that ended the job left
	// them, set before ch is closed.
	end *jobEnd
}

// jobEnd is a job as it ended and its account then.
type jobEnd struct {
	job     *model.Job
	account api.Account
}

// wait returns a waiter woken when job id next ends.
func (w *waiters) wait(id string) *waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]*waiter{}
	}
	wt := &waiter{ch: make(chan struct{})}
	w.m[id] = append(w.m[id], wt)
	return wt
}

// done wakes the waiters of job id, giving them what end returns; end is
// called only when someone waits.
func (w *waiters) done(id string, end func() *jobEnd) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.m[id]
	if len(l) == 0 {
		return
	}
	e := end()
	for _, wt := range l {
		wt.end = e
		close(wt.ch)
	}
	delete(w.m, id)
}

// drop forgets one waiter that gave up.
func (w *waiters) drop(id string, wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.m[id]
	for i, c := range l {
		if c == wt {
			w.m[id] = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(w.m[id]) == 0 {
		delete(w.m, id)
	}
}

// WaitJob returns a job once it has ended, or as it is when wait passes.
// It needs read on the job's account.
func (s *Service) WaitJob(ctx context.Context, c *Caller, id string, wait time.Duration) (*model.Job, error) {
	if wait <= 0 || wait > maxJobWait {
		return nil, api.Errorf(api.CodeInvalidArgument, "wait is from 1ms to %v", maxJobWait)
	}
	var out *model.Job
	err := s.read(event(c, "job.wait", ""), func(ev *audit.Record) error {
		ev.JobID = id
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := checkName("job id", id); err != nil {
			return err
		}
		wt := s.waiters.wait(id)
		defer s.waiters.drop(id, wt)
		j, err := s.visibleJob(c, id)
		if err != nil {
			return err
		}
		if j == nil {
			return api.Errorf(api.CodeNotFound, "no job %q", id)
		}
		if !j.State.Final() {
			awaitDone(ctx, wt.ch, wait)
			if j, err = s.visibleJob(c, id); err != nil {
				return err
			}
		}
		out = j
		return nil
	})
	return out, err
}

// awaitDone waits until done is closed, wait has passed or ctx is done,
// and reports whether done was closed.
func awaitDone(ctx context.Context, done <-chan struct{}, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
