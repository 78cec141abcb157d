package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
)

func (m *cmdline) auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "read and verify the audit trail",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list audit records, oldest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Usage: "only records on this path or below"},
					&cli.StringFlag{Name: "since", Usage: "only records from this RFC 3339 time, " +
						"or from this long ago (such as 1h or 2d)"},
					&cli.IntFlag{Name: "limit",
						Usage: "at most this many records, the newest (default 100)"},
				},
				Action: act(m.auditList),
			},
			{Name: "verify", Usage: "check the audit trail's hash chain",
				Action: act(m.auditVerify)},
		},
	}
}

func (m *cmdline) auditList(c *cli.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	var since time.Time
	if c.IsSet("since") {
		var err error
		if since, err = parseSince(c.String("since"), time.Now()); err != nil {
			return err
		}
	}
	if c.IsSet("limit") && c.Int("limit") <= 0 {
		return usagef("--limit must be positive")
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	list, err := cl.ListAudit(treePath(c.String("path")), since, c.Int("limit"))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "SEQ", "TIME", "ACTOR", "OP", "PATH", "OUTCOME", "CODE", "DETAIL")
		for _, r := range list.Records {
			row(w, strconv.FormatUint(r.Seq, 10), when(r.Time), r.Actor, r.Op, orDash(r.Path),
				r.Outcome, orDash(r.Code), orDash(r.Detail))
		}
	})
}

func (m *cmdline) auditVerify(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	v, err := cl.VerifyAudit()
	if err != nil {
		return err
	}
	err = m.emit(c, v, func(w io.Writer) {
		if v.OK {
			fmt.Fprintf(w, "audit trail intact: %d records\n", v.Records)
		}
	})
	if err != nil || v.OK {
		return err
	}
	return fmt.Errorf("audit trail broken after %d good records: %s", v.Records, v.Problem)
}
