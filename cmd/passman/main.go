// Command passman is PassMan's one binary: it runs the server and the
// all-in-one dev setup, and it is the command line administrators and
// scripts use to drive a server over its HTTPS API.
//
// Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 the
// server refused (not authorised, vault closed, needs --force).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/server/vault"
)

// version is the build's version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run runs the command line args with the given streams and environment
// and returns the exit code. It never exits the process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	m := &cmdline{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	return m.run(args)
}

// cmdline is one run of the command line: where it reads and writes, and
// the settings tests may change.
type cmdline struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// vault configures the vault of the servers this process starts
	// (server run, dev). The zero value is the production defaults.
	vault vault.Options

	// stopContext returns a context cancelled when the process is asked to
	// stop. Default: on SIGINT or SIGTERM.
	stopContext func() (context.Context, context.CancelFunc)
}

// run builds the app, runs args through it and turns the outcome into an
// exit code, printing any error on stderr.
func (m *cmdline) run(args []string) int {
	if m.stopContext == nil {
		m.stopContext = func() (context.Context, context.CancelFunc) {
			return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		}
	}
	app := m.newApp()
	err := app.Run(reorderArgs(app, args))
	if err == nil {
		return exitOK
	}
	code, status, msg := classify(err)
	m.printError(wantsJSON(args), status, msg)
	return code
}

// newApp returns the command tree.
func (m *cmdline) newApp() *cli.App {
	app := &cli.App{
		Name:    "passman",
		Usage:   "keep, change and hand out the credentials of privileged accounts",
		Version: version,
		// Slice flags repeat (--param K=V --param K=V); a comma is part of a
		// value, as in an LDAP DN.
		DisableSliceFlagSeparator: true,
		Reader:                    m.stdin,
		Writer:                    m.stdout,
		ErrWriter:                 m.stderr,
		Flags:                     []cli.Flag{outputFlag()},
		Commands: []*cli.Command{
			m.devCommand(), m.serverCommand(), m.vaultCommand(), m.loginCommand(),
			m.folderCommand(), m.targetCommand(), m.accountCommand(), m.policyCommand(),
			m.jobCommand(), m.userCommand(), m.permissionCommand(), m.auditCommand(),
			m.agentCommand(),
		},
		Action:         rootAction,
		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {},
	}
	prepareCommands(app.Commands)
	return app
}

// prepareCommands gives every command the same handling of usage errors
// and unknown subcommands, and every leaf command its --output flag.
func prepareCommands(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		if len(c.Subcommands) > 0 {
			c.Action = groupAction
			prepareCommands(c.Subcommands)
			continue
		}
		c.Flags = append(c.Flags, outputFlag())
	}
}

// rootAction runs when passman is given no command, or one it does not
// have.
func rootAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("unknown command %q; see passman --help", c.Args().First())
	}
	return cli.ShowAppHelp(c)
}

// groupAction runs when a command that only holds subcommands is given
// none, or one it does not have.
func groupAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("unknown command %q; see %s --help", c.Args().First(), commandName(c))
	}
	return cli.ShowSubcommandHelp(c)
}

// commandName returns the full name of the running command, such as
// "passman account".
func commandName(c *cli.Context) string {
	if c.Command == nil || c.Command.HelpName == "" {
		return c.App.Name
	}
	return c.Command.HelpName
}

// onUsageError marks urfave's flag parsing errors as usage errors.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return usagef("%v; see %s --help", err, commandName(c))
}
