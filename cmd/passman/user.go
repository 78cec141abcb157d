package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/auth"
)

func (m *cmdline) userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "manage local users",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "add a local user, with a password to log in with or none",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "group",
						Usage: "group the user belongs to (repeat)"},
					valueStdinFlag("password"),
					showFlag(),
					&cli.BoolFlag{Name: "no-password", Usage: "create the user without a password"},
				},
				Action: act(m.userCreate),
			},
			{Name: "list", Usage: "list the local users", Action: act(m.userList)},
			{Name: "delete", Usage: "delete a user and its tokens", ArgsUsage: "NAME",
				Action: act(m.userDelete)},
		},
	}
}

func (m *cmdline) userCreate(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	if err := exclusive(c, "no-password", "value-stdin", "show"); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	req := &api.UserCreateRequest{Name: name, Groups: c.StringSlice("group")}
	if !c.Bool("no-password") {
		pw, err := m.readSecret(secretPrompt{what: "password for " + name,
			fromStdin: c.Bool("value-stdin"), show: c.Bool("show"), confirm: true})
		if err != nil {
			return err
		}
		defer pw.Wipe()
		req.Password = api.NewSecret(pw)
	}
	u, err := cl.CreateUser(req)
	if err != nil {
		return err
	}
	return m.emit(c, u, func(w io.Writer) { fmt.Fprintf(w, "created user %s\n", u.Name) })
}

func (m *cmdline) userList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	list, err := cl.ListUsers()
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "NAME", "GROUPS", "CREATED")
		for _, u := range list.Users {
			row(w, u.Name, orDash(strings.Join(u.Groups, ",")), when(u.Created))
		}
	})
}

func (m *cmdline) userDelete(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteUser(name); err != nil {
		return err
	}
	return m.emit(c, api.NameRequest{Name: name}, func(w io.Writer) {
		fmt.Fprintf(w, "deleted user %s\n", name)
	})
}

func (m *cmdline) permissionCommand() *cli.Command {
	grantFlags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "user name, or @group"},
			&cli.StringFlag{Name: "ops", Usage: "comma-separated operations, or all: " +
				strings.Join(opNames(), ",")},
		}
	}
	return &cli.Command{
		Name:  "permission",
		Usage: "grant and revoke operations on folders, targets and accounts",
		Subcommands: []*cli.Command{
			{Name: "grant", Usage: "grant operations on PATH and below (\"/\" is the whole vault)",
				ArgsUsage: "PATH", Flags: grantFlags(), Action: act(m.permissionGrant)},
			{Name: "revoke", Usage: "revoke operations granted on PATH", ArgsUsage: "PATH",
				Flags: grantFlags(), Action: act(m.permissionRevoke)},
			{Name: "list", Usage: "list the grants that apply on PATH", ArgsUsage: "[PATH]",
				Action: act(m.permissionList)},
		},
	}
}

// opNames returns the names of every operation.
func opNames() []string {
	out := make([]string, len(auth.AllOps))
	for i, op := range auth.AllOps {
		out[i] = string(op)
	}
	return out
}

// grantRequest builds a grant or revoke request from the command line.
func grantRequest(c *cli.Context) (*api.GrantRequest, error) {
	path, err := needArg(c, "PATH")
	if err != nil {
		return nil, err
	}
	if err := needFlags(c, "to", "ops"); err != nil {
		return nil, err
	}
	ops, err := auth.ParseOps(c.String("ops"))
	if err != nil {
		return nil, usagef("--ops: %v", err)
	}
	req := &api.GrantRequest{Path: treePath(path), To: c.String("to")}
	for _, op := range ops {
		req.Ops = append(req.Ops, string(op))
	}
	return req, nil
}

func (m *cmdline) permissionGrant(c *cli.Context) error {
	req, err := grantRequest(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	g, err := cl.Grant(req)
	if err != nil {
		return err
	}
	return m.emitGrant(c, g)
}

func (m *cmdline) permissionRevoke(c *cli.Context) error {
	req, err := grantRequest(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	g, err := cl.Revoke(req)
	if err != nil {
		return err
	}
	return m.emitGrant(c, g)
}

// emitGrant prints what a principal holds on a path after a change.
func (m *cmdline) emitGrant(c *cli.Context, g *api.Grant) error {
	return m.emit(c, g, func(w io.Writer) {
		fmt.Fprintf(w, "%s now holds on %s: %s\n", g.Principal, vaultPath(g.Path),
			orDash(strings.Join(g.Ops, ",")))
	})
}

// vaultPath shows the root as "/".
func vaultPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (m *cmdline) permissionList(c *cli.Context) error {
	path, err := optArg(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	list, err := cl.ListGrants(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "PATH", "PRINCIPAL", "OPERATIONS")
		for _, g := range list.Grants {
			row(w, vaultPath(g.Path), g.Principal, strings.Join(g.Ops, ","))
		}
	})
}
