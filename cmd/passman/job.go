package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/server/model"
)

func (m *cmdline) jobCommand() *cli.Command {
	return &cli.Command{
		Name:  "job",
		Usage: "follow the jobs that change and check credentials",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the newest jobs",
				Flags: []cli.Flag{&cli.StringFlag{Name: "state",
					Usage: "only jobs in this state: waiting_agent, running, succeeded or failed"}},
				Action: act(m.jobList),
			},
			{Name: "show", Usage: "show a job and its steps", ArgsUsage: "ID",
				Action: act(m.jobShow)},
			{Name: "watch", Usage: "wait for a job to end and print its outcome", ArgsUsage: "ID",
				Action: act(m.jobWatch)},
		},
	}
}

func (m *cmdline) jobList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	list, err := cl.ListJobs(model.JobState(c.String("state")))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "ID", "KIND", "PATH", "TYPE", "STATE", "BY", "CREATED", "OUTCOME")
		for _, j := range list.Jobs {
			row(w, j.ID, string(j.Kind), j.Path, string(j.Type), string(j.State), j.RequestedBy,
				when(j.Created), orDash(j.Outcome))
		}
	})
}

func (m *cmdline) jobShow(c *cli.Context) error {
	id, err := needArg(c, "ID")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	j, err := cl.ShowJob(id)
	if err != nil {
		return err
	}
	return m.emit(c, j, func(w io.Writer) { writeJob(w, j) })
}

// writeJob writes the detail view of a job.
func writeJob(w io.Writer, j *model.Job) {
	field(w, "id", j.ID)
	field(w, "kind", j.Kind)
	field(w, "account", j.Path)
	field(w, "credential", j.Type)
	field(w, "requested by", j.RequestedBy)
	field(w, "change on target", j.ChangeOnTarget)
	field(w, "state", j.State)
	field(w, "created", when(j.Created))
	field(w, "deadline", when(j.Deadline))
	field(w, "outcome", orDash(j.Outcome))
	field(w, "reason", orDash(j.Reason))
	if j.AgentID != "" {
		field(w, "agent", j.AgentID)
	}
	fmt.Fprintln(w)
	row(w, "STEP", "AT", "NOTE")
	for _, s := range j.Steps {
		row(w, string(s.State), when(s.At), orDash(s.Note))
	}
}
