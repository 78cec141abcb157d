package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
)

func (m *cmdline) checkCommand() *cli.Command {
	return &cli.Command{
		Name: "check",
		Usage: "log in to the targets with the stored credentials, through their agents, " +
			"and set each account's status from the result",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "check every account of this target"},
			&cli.BoolFlag{Name: "all", Usage: "check every account you may check"},
			&cli.BoolFlag{Name: "wait", Usage: "wait for the checks to end"},
		},
		Action: act(m.accountCheck),
	}
}

func (m *cmdline) accountCheck(c *cli.Context) error {
	req := &api.CheckRequest{Target: treePath(c.String("target")), All: c.Bool("all")}
	for _, p := range c.Args().Slice() {
		req.Paths = append(req.Paths, treePath(p))
	}
	given := 0
	for _, b := range []bool{len(req.Paths) > 0, c.IsSet("target"), req.All} {
		if b {
			given++
		}
	}
	if given != 1 {
		return usagef("name accounts by PATH, or give --target or --all (one of them)")
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	res, err := cl.Check(req)
	if err != nil {
		return err
	}
	if c.Bool("wait") {
		ids := make([]string, len(res.Jobs))
		for i, j := range res.Jobs {
			ids[i] = j.ID
		}
		return m.waitJobs(c, cl, ids, nil)
	}
	return m.emit(c, res, func(w io.Writer) {
		fmt.Fprintf(w, "started %d check jobs\n", len(res.Jobs))
		row(w, "JOB", "PATH", "TYPE")
		for _, j := range res.Jobs {
			row(w, j.ID, j.Path, j.Type)
		}
	})
}
