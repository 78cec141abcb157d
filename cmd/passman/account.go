package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
)

func (m *cmdline) accountCommand() *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "manage accounts and their credentials",
		Subcommands: []*cli.Command{
			m.accountCreateCommand(),
			{
				Name:  "list",
				Usage: "list accounts",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "folder", Usage: "only accounts under this folder"},
					&cli.StringFlag{Name: "target", Usage: "only accounts of this target"},
					&cli.StringFlag{Name: "status", Usage: "only accounts with this status: " +
						"InSync, NotInSync, Unknown or Changing"},
				},
				Action: act(m.accountList),
			},
			{Name: "show", Usage: "describe an account and its credentials", ArgsUsage: "PATH",
				Action: act(m.accountShow)},
			m.resetCommand(),
			m.checkCommand(),
			m.updateCommand(),
			m.checkoutCommand(),
			{
				Name:      "checkin",
				Usage:     "end an exclusive checkout",
				ArgsUsage: "PATH",
				Flags:     []cli.Flag{typeFlag("credential to check in (default every one)")},
				Action:    act(m.accountCheckin),
			},
			{
				Name:      "revisions",
				Usage:     "list the versions of a credential",
				ArgsUsage: "PATH",
				Flags:     []cli.Flag{typeFlag("credential type")},
				Action:    act(m.accountRevisions),
			},
			m.restoreCommand(),
		},
	}
}

// typeFlag returns the --type flag of a credential type.
func typeFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "type", Usage: usage + ": password, ssh-key or pin"}
}

// needType returns the --type flag as a credential type; it must be given.
func needType(c *cli.Context) (model.CredentialType, error) {
	if err := needFlags(c, "type"); err != nil {
		return "", err
	}
	return parseType(c.String("type"))
}

// parseType parses a credential type typed by a user.
func parseType(s string) (model.CredentialType, error) {
	t, err := model.ParseCredentialType(s)
	if err != nil {
		return "", usagef("%v", err)
	}
	return t, nil
}

func (m *cmdline) accountCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create an account on a target",
		ArgsUsage: "PATH",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "credential", Usage: "credential type the account has " +
				"(password, ssh-key or pin; repeat for several)"},
			&cli.StringFlag{Name: "policy",
				Usage: "policy of the credential (one credential only)"},
			valueStdinFlag("first credential's value"),
			&cli.BoolFlag{Name: "generate",
				Usage: "generate the first credential's value from its policy"},
		},
		Action: act(m.accountCreate),
	}
}

func (m *cmdline) accountCreate(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	specs, err := credentialSpecs(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	if c.Bool("value-stdin") {
		v, err := m.readSecret(secretPrompt{what: string(specs[0].Type), fromStdin: true,
			wholeStdin: specs[0].Type == model.SSHKey})
		if err != nil {
			return err
		}
		defer v.Wipe()
		specs[0].Value = api.NewSecret(v)
	}
	req := &api.AccountCreateRequest{Path: treePath(path), Credentials: specs}
	res, err := cl.CreateAccount(req)
	if err != nil {
		return err
	}
	return m.emitJob(c, res, "created account "+res.Account.Path)
}

// credentialSpecs builds the credentials of a new account from the flags.
func credentialSpecs(c *cli.Context) ([]api.CredentialSpec, error) {
	types := c.StringSlice("credential")
	if len(types) == 0 {
		return nil, usagef("missing --credential TYPE")
	}
	if c.IsSet("policy") && len(types) > 1 {
		return nil, usagef("--policy applies to an account with one credential; " +
			"create the account with one --credential")
	}
	if err := exclusive(c, "value-stdin", "generate"); err != nil {
		return nil, err
	}
	specs := make([]api.CredentialSpec, len(types))
	for i, s := range types {
		t, err := parseType(s)
		if err != nil {
			return nil, err
		}
		specs[i] = api.CredentialSpec{Type: t}
	}
	specs[0].Policy = c.String("policy")
	specs[0].Generate = c.Bool("generate")
	return specs, nil
}

func (m *cmdline) accountList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	list, err := cl.ListAccounts(treePath(c.String("folder")), treePath(c.String("target")),
		model.SyncStatus(c.String("status")))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "PATH", "STATUS", "CREDENTIALS", "LAST ACTION")
		for _, a := range list.Accounts {
			row(w, a.Path, string(a.Status), credentialSummary(a.Credentials),
				lastAction(a.LastAction))
		}
	})
}

// credentialSummary lists credentials as "type:status" pairs.
func credentialSummary(creds []api.Credential) string {
	parts := make([]string, len(creds))
	for i, cr := range creds {
		parts[i] = string(cr.Type) + ":" + string(cr.Status)
	}
	return strings.Join(parts, ",")
}

// lastAction describes an account's last action in a few words.
func lastAction(a *model.Action) string {
	if a == nil {
		return "-"
	}
	return fmt.Sprintf("%s by %s at %s", a.Op, a.By, when(a.At))
}

func (m *cmdline) accountShow(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	a, err := cl.ShowAccount(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, a, func(w io.Writer) { writeAccount(w, a) })
}

// writeAccount writes the detail view of an account.
func writeAccount(w io.Writer, a *api.Account) {
	field(w, "path", a.Path)
	field(w, "status", a.Status)
	field(w, "last action", lastAction(a.LastAction))
	field(w, "created", when(a.Created))
	fmt.Fprintln(w)
	row(w, "TYPE", "POLICY", "STATUS", "REASON", "COMPLIANCE", "VERSION", "PENDING", "CHECKED OUT")
	for _, cr := range a.Credentials {
		row(w, string(cr.Type), cr.Policy, string(cr.Status), orDash(cr.Reason),
			string(cr.Compliance), strconv.FormatUint(cr.Version, 10), pending(cr),
			checkout(cr.Checkout))
	}
	for _, cr := range a.Credentials {
		for _, v := range cr.Violations {
			fmt.Fprintf(w, "%s: %s\n", cr.Type, v)
		}
	}
}

// pending describes a credential's pending version, "-" for none.
func pending(cr api.Credential) string {
	if cr.Pending == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (job %s)", cr.Pending, cr.PendingJob)
}

// checkout describes an exclusive checkout, "-" for none.
func checkout(co *model.Checkout) string {
	if co == nil || !co.Exclusive {
		return "-"
	}
	return fmt.Sprintf("by %s until %s", co.User, when(co.Until))
}

// emitJob prints the answer to a request that ran a job: what was done,
// the job and the account's status, with the warnings on stderr.
func (m *cmdline) emitJob(c *cli.Context, res *api.JobResponse, done string) error {
	err := m.emit(c, res, func(w io.Writer) {
		fmt.Fprintln(w, done)
		if res.Job != nil {
			field(w, "job", res.Job.ID)
			field(w, "state", res.Job.State)
			if res.Job.Outcome != "" {
				field(w, "outcome", res.Job.Outcome)
			}
		}
		field(w, "account status", res.Account.Status)
	})
	if !isJSON(c) {
		for _, warn := range res.Warnings {
			fmt.Fprintf(m.stderr, "warning: %s\n", warn)
		}
	}
	return err
}

// newValue reads a credential's new value from stdin or a prompt, or
// returns an empty value when it is to be generated.
func (m *cmdline) newValue(c *cli.Context, t model.CredentialType) (secret.Value, error) {
	if c.Bool("generate") {
		return secret.Value{}, nil
	}
	if t == model.SSHKey && !c.Bool("value-stdin") {
		return secret.Value{}, usagef(
			"an ssh-key is read from stdin: pass --value-stdin or --generate")
	}
	return m.readSecret(secretPrompt{what: "new " + string(t), fromStdin: c.Bool("value-stdin"),
		wholeStdin: t == model.SSHKey, show: c.Bool("show"), confirm: true})
}
