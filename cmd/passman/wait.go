package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/server/model"
)

// waitEach is how long one request waits for a job to end.
const waitEach = 30 * time.Second

// errJobFailed makes a waiting command exit 1 when a job it waited for
// failed; the job's outcome has been printed.
var errJobFailed = errors.New("a job failed")

// waitJobs follows jobs until each ends, printing each outcome and the
// account's status. A job whose outcome was unknown hands over to the job
// that settles it, which is followed too.
//
// started, when not nil, is the answer that started the first job; with
// --output json it is printed in the same document as the jobs that ended.
func (m *cmdline) waitJobs(c *cli.Context, cl *client.Client, ids []string,
	started *api.JobResponse) error {
	failed := false
	var done []*model.Job
	for _, id := range ids {
		j, err := m.waitJob(cl, id)
		if err != nil {
			return err
		}
		failed = failed || j.State == model.JobFailed
		done = append(done, j)
	}
	var doc any = done
	if started != nil {
		doc = waitedJobs{Started: started, Ended: done}
	}
	err := m.emit(c, doc, func(w io.Writer) {
		row(w, "JOB", "KIND", "PATH", "TYPE", "STATE", "REASON", "OUTCOME", "ACCOUNT STATUS")
		for _, j := range done {
			status := "-"
			if a, err := cl.ShowAccount(j.Path); err == nil {
				status = string(a.Status)
			}
			row(w, j.ID, string(j.Kind), j.Path, string(j.Type), string(j.State), orDash(j.Reason),
				orDash(j.Outcome), status)
		}
	})
	if err == nil && failed {
		return errJobFailed
	}
	return err
}

// waitedJobs is what a waiting command prints with --output json: the
// answer that started the job and every job it waited for, in order.
type waitedJobs struct {
	Started *api.JobResponse `json:"started"`
	Ended   []*model.Job     `json:"ended"`
}

// waitJob waits for one job to end, following a resolve job it started.
func (m *cmdline) waitJob(cl *client.Client, id string) (*model.Job, error) {
	for {
		j, err := cl.WaitJob(id, waitEach)
		if err != nil {
			return nil, err
		}
		if !j.State.Final() {
			continue
		}
		next := resolvedBy(cl, j)
		if next == "" {
			return j, nil
		}
		fmt.Fprintf(m.stderr, "job %s: %s\n", j.ID, j.Outcome)
		id = next
	}
}

// resolvedBy returns the job settling j's unknown outcome, if there is one.
func resolvedBy(cl *client.Client, j *model.Job) string {
	if j.State != model.JobFailed || len(j.Candidates) > 0 {
		return ""
	}
	a, err := cl.ShowAccount(j.Path)
	if err != nil {
		return ""
	}
	for _, cr := range a.Credentials {
		if cr.Type != j.Type || cr.PendingJob == "" || cr.PendingJob == j.ID {
			continue
		}
		if r, err := cl.ShowJob(cr.PendingJob); err == nil && r.Resolves == j.ID {
			return r.ID
		}
	}
	return ""
}

func (m *cmdline) jobWatch(c *cli.Context) error {
	id, err := needArg(c, "ID")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	return m.waitJobs(c, cl, []string{id}, nil)
}
