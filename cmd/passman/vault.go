package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
)

// valueStdinFlag returns the --value-stdin flag.
func valueStdinFlag(what string) cli.Flag {
	return &cli.BoolFlag{Name: "value-stdin", Usage: "read the " + what + " from one line of stdin"}
}

// showFlag returns the --show flag.
func showFlag() cli.Flag {
	return &cli.BoolFlag{Name: "show", Usage: "echo the value as it is typed, and ask once"}
}

func (m *cmdline) vaultCommand() *cli.Command {
	return &cli.Command{
		Name:  "vault",
		Usage: "open, close and inspect the vault, and manage its vault keys",
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "say whether the vault is open", Action: act(m.vaultStatus)},
			{
				Name:   "open",
				Usage:  "open the vault with a vault key",
				Flags:  []cli.Flag{valueStdinFlag("vault key"), showFlag()},
				Action: act(m.vaultOpen),
			},
			{Name: "close", Usage: "close the vault at once", Action: act(m.vaultClose)},
			m.vaultKeyCommand(),
		},
	}
}

func (m *cmdline) vaultKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage the vault keys that open the vault",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list the vault keys' names", Action: act(m.vaultKeyList)},
			{
				Name:      "add",
				Usage:     "add a vault key, typed or generated",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "generate", Usage: "generate the key and print it once"},
					valueStdinFlag("vault key"), showFlag(),
				},
				Action: act(m.vaultKeyAdd),
			},
			{Name: "remove", Usage: "remove a vault key", ArgsUsage: "NAME",
				Action: act(m.vaultKeyRemove)},
		},
	}
}

func (m *cmdline) vaultStatus(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	st, err := cl.VaultStatus()
	if err != nil {
		return err
	}
	return m.emit(c, st, func(w io.Writer) { fmt.Fprintln(w, "vault", openWord(st.Open)) })
}

// openWord says "open" or "closed".
func openWord(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

func (m *cmdline) vaultOpen(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	key, err := m.readSecret(secretPrompt{what: "vault key", fromStdin: c.Bool("value-stdin"),
		show: c.Bool("show")})
	if err != nil {
		return err
	}
	defer key.Wipe()
	res, err := cl.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(key)})
	if err != nil {
		return err
	}
	return m.emit(c, res, func(w io.Writer) {
		fmt.Fprintf(w, "vault open (with vault key %s)\n", res.KeyName)
	})
}

func (m *cmdline) vaultClose(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	if err := cl.CloseVault(); err != nil {
		return err
	}
	return m.emit(c, api.VaultStatus{Open: false}, func(w io.Writer) {
		fmt.Fprintln(w, "vault closed")
	})
}

func (m *cmdline) vaultKeyList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	keys, err := cl.ListVaultKeys()
	if err != nil {
		return err
	}
	return m.emit(c, keys, func(w io.Writer) {
		row(w, "NAME")
		for _, k := range keys.Keys {
			row(w, k)
		}
	})
}

func (m *cmdline) vaultKeyAdd(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	if err := exclusive(c, "generate", "value-stdin", "show"); err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	req := &api.VaultKeyAddRequest{Name: name, Generate: c.Bool("generate")}
	if !req.Generate {
		key, err := m.readSecret(secretPrompt{what: "new vault key",
			fromStdin: c.Bool("value-stdin"), show: c.Bool("show"), confirm: true})
		if err != nil {
			return err
		}
		defer key.Wipe()
		req.Key = api.NewSecret(key)
	}
	res, err := cl.AddVaultKey(req)
	if err != nil {
		return err
	}
	return m.emit(c, res, func(w io.Writer) {
		fmt.Fprintf(w, "added vault key %s\n", res.Name)
		if res.GeneratedKey != "" {
			fmt.Fprintf(w, "vault key (shown only this once): %s\n", res.GeneratedKey)
		}
	})
}

func (m *cmdline) vaultKeyRemove(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	if err := cl.RemoveVaultKey(name); err != nil {
		return err
	}
	return m.emit(c, api.NameRequest{Name: name}, func(w io.Writer) {
		fmt.Fprintf(w, "removed vault key %s\n", name)
	})
}

func (m *cmdline) loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "exchange a user's password for an API token to export as PASSMAN_TOKEN",
		ArgsUsage: "USER",
		Flags:     []cli.Flag{valueStdinFlag("password")},
		Action:    act(m.login),
	}
}

func (m *cmdline) login(c *cli.Context) error {
	user, err := needArg(c, "USER")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	pw, err := m.readSecret(secretPrompt{what: "password", fromStdin: c.Bool("value-stdin")})
	if err != nil {
		return err
	}
	defer pw.Wipe()
	res, err := cl.Login(&api.LoginRequest{User: user, Password: api.NewSecret(pw)})
	if err != nil {
		return err
	}
	return m.emit(c, res, func(w io.Writer) {
		fmt.Fprintf(w, "export PASSMAN_TOKEN=%s\n", shellQuote(res.Token))
	})
}

// exclusive refuses more than one of the named flags, for flags that
// pick alternative ways of doing one thing.
func exclusive(c *cli.Context, names ...string) error {
	var set []string
	for _, n := range names {
		if c.IsSet(n) && c.Bool(n) {
			set = append(set, "--"+n)
		}
	}
	if len(set) > 1 {
		return usagef("%s cannot be used together", strings.Join(set, " and "))
	}
	return nil
}
