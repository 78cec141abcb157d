package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
)

func (m *cmdline) folderCommand() *cli.Command {
	return &cli.Command{
		Name:  "folder",
		Usage: "create, list and delete folders",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a folder", ArgsUsage: "PATH",
				Action: act(m.folderCreate)},
			{Name: "list", Usage: "list the folders under a folder", ArgsUsage: "[PATH]",
				Action: act(m.folderList)},
			{Name: "delete", Usage: "delete an empty folder", ArgsUsage: "PATH",
				Action: act(m.folderDelete)},
		},
	}
}

func (m *cmdline) folderCreate(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	f, err := cl.CreateFolder(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, f, func(w io.Writer) { fmt.Fprintf(w, "created folder %s\n", f.Path) })
}

func (m *cmdline) folderList(c *cli.Context) error {
	path, err := optArg(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	list, err := cl.ListFolders(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "PATH", "CREATED")
		for _, f := range list.Folders {
			row(w, orDash(f.Path), when(f.Created))
		}
	})
}

func (m *cmdline) folderDelete(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteFolder(treePath(path)); err != nil {
		return err
	}
	return m.emit(c, api.PathRequest{Path: treePath(path)}, func(w io.Writer) {
		fmt.Fprintf(w, "deleted folder %s\n", treePath(path))
	})
}

func (m *cmdline) targetCommand() *cli.Command {
	return &cli.Command{
		Name:  "target",
		Usage: "create, list, show and delete targets",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a target in a folder",
				ArgsUsage: "PATH",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type",
						Usage: "driver that manages the target, such as ssh"},
					&cli.StringFlag{Name: "address", Usage: "HOST or HOST:PORT"},
					&cli.StringFlag{Name: "zone", Usage: "zone whose agents reach the target"},
					&cli.StringSliceFlag{Name: "param", Usage: "driver setting K=V (repeat)"},
					&cli.StringFlag{Name: "reconcile-account", Usage: "name of the account " +
						"on this target that can reset the others' credentials"},
				},
				Action: act(m.targetCreate),
			},
			{Name: "list", Usage: "list the targets under a folder", ArgsUsage: "[PATH]",
				Action: act(m.targetList)},
			{Name: "show", Usage: "describe a target", ArgsUsage: "PATH",
				Action: act(m.targetShow)},
			{Name: "delete", Usage: "delete a target without accounts", ArgsUsage: "PATH",
				Action: act(m.targetDelete)},
		},
	}
}

func (m *cmdline) targetCreate(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	req := &api.TargetCreateRequest{Path: treePath(path), Type: c.String("type"),
		Address: c.String("address"), Zone: c.String("zone"),
		ReconcileAccount: c.String("reconcile-account")}
	if err := needFlags(c, "type", "address", "zone"); err != nil {
		return err
	}
	if req.Params, err = parseParams(c.StringSlice("param")); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	t, err := cl.CreateTarget(req)
	if err != nil {
		return err
	}
	err = m.emit(c, t, func(w io.Writer) { fmt.Fprintf(w, "created target %s\n", t.Path) })
	if !isJSON(c) {
		for _, warn := range t.Warnings {
			fmt.Fprintf(m.stderr, "warning: %s\n", warn)
		}
	}
	return err
}

// parseParams parses K=V flags into a map.
func parseParams(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--param %q is not K=V", kv)
		}
		if _, dup := out[k]; dup {
			return nil, usagef("--param %s given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// needFlags refuses a command line without each of the named flags.
func needFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if !c.IsSet(n) || c.String(n) == "" {
			return usagef("missing --%s", n)
		}
	}
	return nil
}

func (m *cmdline) targetList(c *cli.Context) error {
	path, err := optArg(c)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	list, err := cl.ListTargets(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "PATH", "TYPE", "ADDRESS", "ZONE", "ACCOUNTS")
		for _, t := range list.Targets {
			row(w, t.Path, t.Type, t.Address, t.Zone, strconv.Itoa(t.Accounts))
		}
	})
}

func (m *cmdline) targetShow(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	t, err := cl.ShowTarget(treePath(path))
	if err != nil {
		return err
	}
	return m.emit(c, t, func(w io.Writer) {
		field(w, "path", t.Path)
		field(w, "type", t.Type)
		field(w, "address", t.Address)
		field(w, "zone", t.Zone)
		field(w, "accounts", t.Accounts)
		field(w, "created", when(t.Created))
		for _, k := range slices.Sorted(maps.Keys(t.Params)) {
			field(w, "param "+k, t.Params[k])
		}
	})
}

func (m *cmdline) targetDelete(c *cli.Context) error {
	path, err := needArg(c, "PATH")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteTarget(treePath(path)); err != nil {
		return err
	}
	return m.emit(c, api.PathRequest{Path: treePath(path)}, func(w io.Writer) {
		fmt.Fprintf(w, "deleted target %s\n", treePath(path))
	})
}
