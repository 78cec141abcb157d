package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/model"
)

// targetChangeFlags returns the flags that choose between a change on the
// target and one in the database only.
func targetChangeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-change-on-target", Usage: "change the credential in the database " +
			"only, leaving the target alone"},
		&cli.BoolFlag{Name: "force", Usage: "with --no-change-on-target: confirm changing an " +
			"InSync account in the database only"},
		&cli.BoolFlag{Name: "wait", Usage: "wait for the job to end"},
	}
}

// checkForce refuses --force without --no-change-on-target.
func checkForce(c *cli.Context) error {
	if c.Bool("force") && !c.Bool("no-change-on-target") {
		return usagef("--force applies only with --no-change-on-target")
	}
	return nil
}

func (m *cmdline) resetCommand() *cli.Command {
	return &cli.Command{
		Name: "reset",
		Usage: "give a credential a new value, typed or generated, " +
			"on the target and in the vault",
		ArgsUsage: "PATH",
		Flags: append([]cli.Flag{
			typeFlag("credential to reset"),
			&cli.BoolFlag{Name: "generate",
				Usage: "generate the value from the credential's policy"},
			valueStdinFlag("new value"),
			showFlag(),
			&cli.BoolFlag{Name: "reconcile", Usage: "change it with the target's reconcile " +
				"account instead of the account's current credential"},
		}, targetChangeFlags()...),
		Action: act(m.accountReset),
	}
}

func (m *cmdline) accountReset(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	if err := checkForce(c); err != nil {
		return err
	}
	if err := exclusive(c, "generate", "value-stdin", "show"); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	value, err := m.newValue(c, t)
	if err != nil {
		return err
	}
	defer value.Wipe()
	res, err := cl.Reset(&api.ResetRequest{
		Path: treePath(path), Type: t, Value: api.NewSecret(value), Generate: c.Bool("generate"),
		DatabaseOnly: c.Bool("no-change-on-target"), Force: c.Bool("force"),
		Reconcile: c.Bool("reconcile"),
	})
	if err != nil {
		return err
	}
	return m.finishJob(c, res, fmt.Sprintf("reset the %s of %s", t, res.Account.Path))
}

// finishJob prints a job's answer and, with --wait, waits for the job.
// With --output json and --wait, it prints one document holding both.
func (m *cmdline) finishJob(c *cli.Context, res *api.JobResponse, done string) error {
	wait := c.Bool("wait") && res.Job != nil && !res.Job.State.Final()
	if !wait || !isJSON(c) {
		if err := m.emitJob(c, res, done); err != nil {
			return err
		}
	}
	if !wait {
		return nil
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	return m.waitJobs(c, cl, []string{res.Job.ID}, res)
}

func (m *cmdline) updateCommand() *cli.Command {
	return &cli.Command{
		Name: "update",
		Usage: "record in the vault a value that was changed by hand on the target " +
			"(database only)",
		ArgsUsage: "PATH",
		Flags: []cli.Flag{
			typeFlag("credential to update"),
			valueStdinFlag("value"),
			showFlag(),
			&cli.BoolFlag{Name: "force", Usage: "confirm updating an InSync account"},
		},
		Action: act(m.accountUpdate),
	}
}

func (m *cmdline) accountUpdate(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	if err := exclusive(c, "value-stdin", "show"); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	value, err := m.newValue(c, t)
	if err != nil {
		return err
	}
	defer value.Wipe()
	res, err := cl.Update(&api.UpdateRequest{
		Path: treePath(path), Type: t, Value: api.NewSecret(value), Force: c.Bool("force"),
	})
	if err != nil {
		return err
	}
	return m.emitJob(c, res,
		fmt.Sprintf("updated the %s of %s in the database", t, res.Account.Path))
}

func (m *cmdline) checkoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "print a credential's current value",
		ArgsUsage: "PATH",
		Flags: []cli.Flag{
			typeFlag("credential to check out"),
			&cli.StringFlag{Name: "for", Usage: "hold the credential exclusively for this long, " +
				"such as 2h or 1d"},
			&cli.StringFlag{Name: "reason",
				Usage: "why the credential is needed, for the audit trail"},
		},
		Action: act(m.accountCheckout),
	}
}

func (m *cmdline) accountCheckout(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	req := &api.CheckoutRequest{Path: treePath(path), Type: t, Reason: c.String("reason")}
	if c.IsSet("for") {
		d, err := parseDuration(c.String("for"))
		if err != nil {
			return err
		}
		req.ForSeconds = int64((d + time.Second - 1) / time.Second)
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	res, err := cl.Checkout(req)
	if err != nil {
		return err
	}
	return m.emitCheckout(c, res)
}

// emitCheckout prints a checked-out value: alone on stdout, so that it can
// be piped, with the checkout's end on stderr.
func (m *cmdline) emitCheckout(c *cli.Context, res *api.CheckoutResponse) error {
	if isJSON(c) {
		return writeJSON(m.stdout, res)
	}
	if _, err := fmt.Fprintln(m.stdout, res.Value); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if res.Checkout != nil {
		fmt.Fprintf(m.stderr, "checked out exclusively until %s; end it with "+
			"passman account checkin %s\n", when(res.Checkout.Until), res.Path)
	}
	return nil
}

func (m *cmdline) accountCheckin(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	var t model.CredentialType
	if c.IsSet("type") {
		if t, err = parseType(c.String("type")); err != nil {
			return err
		}
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	a, err := cl.Checkin(&api.CheckinRequest{Path: treePath(path), Type: t})
	if err != nil {
		return err
	}
	return m.emit(c, a, func(w io.Writer) {
		fmt.Fprintf(w, "checked in %s\n", a.Path)
		field(w, "account status", a.Status)
	})
}

func (m *cmdline) accountRevisions(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	list, err := cl.Revisions(treePath(path), t)
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "REVISION", "CREATED", "CREATED BY", "SOURCE", "COMPLIANCE", "STATE")
		for _, r := range list.Revisions {
			row(w, strconv.FormatUint(r.N, 10), when(r.Created), r.CreatedBy, r.Source,
				string(r.Compliance), revisionMark(r))
		}
	})
}

// revisionMark says whether a revision is the current or pending version.
func revisionMark(r api.Revision) string {
	switch {
	case r.Current:
		return "current"
	case r.Pending:
		return "pending"
	}
	return "-"
}

func (m *cmdline) restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "bring an older revision of a credential back, on the target and in the vault",
		ArgsUsage: "PATH",
		Flags: append([]cli.Flag{
			typeFlag("credential to restore"),
			&cli.Uint64Flag{Name: "revision",
				Usage: "revision to bring back (see account revisions)"},
		}, targetChangeFlags()...),
		Action: act(m.accountRestore),
	}
}

func (m *cmdline) accountRestore(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	if !c.IsSet("revision") {
		return usagef("missing --revision N")
	}
	if err := checkForce(c); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	res, err := cl.Restore(&api.RestoreRequest{Path: treePath(path), Type: t,
		Revision: c.Uint64("revision"), DatabaseOnly: c.Bool("no-change-on-target"),
		Force: c.Bool("force")})
	if err != nil {
		return err
	}
	return m.finishJob(c, res, fmt.Sprintf("restored revision %d of the %s of %s",
		c.Uint64("revision"), t, res.Account.Path))
}
