package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/httpapi"
	"github.com/passman-dev/passman/server/service"
)

// initOutput is what server init prints with --output json.
type initOutput struct {
	VaultKeyName string `json:"vault_key_name"`
	VaultKey     string `json:"vault_key"`
	Admin        string `json:"admin"`
	AdminToken   string `json:"admin_token"`
	CACert       string `json:"ca_cert"`
}

func (m *cmdline) serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "create and run a PassMan server",
		Subcommands: []*cli.Command{
			{
				Name: "init",
				Usage: "create a new data directory and vault; " +
					"prints the first vault key and admin token once",
				Flags: []cli.Flag{
					dataFlag(),
					&cli.StringFlag{Name: "admin", Value: "admin",
						Usage: "name of the first administrator"},
					&cli.StringSliceFlag{Name: "hostname", Usage: "a name or address the " +
						"API certificate is valid for (repeat; default localhost and this " +
						"host's name)"},
				},
				Action: act(m.serverInit),
			},
			{
				Name:  "run",
				Usage: "serve the API of a data directory until interrupted",
				Flags: append([]cli.Flag{
					dataFlag(),
					listenFlag(),
					&cli.StringFlag{Name: "nats-listen", Value: "127.0.0.1:4222",
						Usage: "address of the embedded NATS server agents connect to"},
					&cli.StringFlag{Name: "nats-url", Usage: "use this external NATS " +
						"cluster instead of the embedded server"},
					&cli.DurationFlag{Name: "session-idle", Value: httpapi.DefaultSessionIdle,
						Usage: "end a web console session unused this long"},
				}, logFlags()...),
				Action: act(m.serverRun),
			},
		},
	}
}

// dataFlag returns the --data flag.
func dataFlag() cli.Flag {
	return &cli.StringFlag{Name: "data", Usage: "the server's data directory"}
}

// listenFlag returns the --listen flag of the API's address.
func listenFlag() cli.Flag {
	return &cli.StringFlag{Name: "listen", Value: server.DefaultListen, Usage: "address of the API"}
}

// logFlags returns the flags that configure the server's log.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info",
			Usage: "trace, debug, info, warn or error"},
		&cli.BoolFlag{Name: "log-json", Usage: "write the log as JSON lines"},
	}
}

// serverLogger returns the logger the --log-level and --log-json flags ask
// for, writing to w.
func serverLogger(c *cli.Context, w io.Writer) (hclog.Logger, error) {
	level := hclog.LevelFromString(c.String("log-level"))
	if level == hclog.NoLevel {
		return nil, usagef("--log-level %q is not trace, debug, info, warn or error",
			c.String("log-level"))
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: "passman", Level: level, Output: w, JSONFormat: c.Bool("log-json"),
	}), nil
}

// needData returns the --data directory, which must be given.
func needData(c *cli.Context) (string, error) {
	dir := c.String("data")
	if dir == "" {
		return "", usagef("missing --data DIR")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving --data: %w", err)
	}
	return abs, nil
}

func (m *cmdline) serverInit(c *cli.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	dir, err := needData(c)
	if err != nil {
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "passman", Level: hclog.Warn, Output: m.stderr})
	opts := server.InitOptions{Admin: c.String("admin"), Hosts: c.StringSlice("hostname"),
		Vault: m.vault}
	b, err := server.Init(dir, opts, log)
	if errors.Is(err, server.ErrExists) {
		return fmt.Errorf("%w (in %s); it was not changed", err, dir)
	}
	if err != nil {
		return err
	}
	defer b.VaultKey.Wipe()
	defer b.AdminToken.Wipe()
	return m.printInit(c, dir, b)
}

// printInit shows the bootstrap secrets, the one time they are shown.
func (m *cmdline) printInit(c *cli.Context, dir string, b *service.Bootstrap) error {
	out := initOutput{
		VaultKeyName: b.VaultKeyName, VaultKey: string(b.VaultKey.Reveal()),
		Admin: b.Admin, AdminToken: string(b.AdminToken.Reveal()), CACert: server.CACertPath(dir),
	}
	return m.emit(c, out, func(w io.Writer) {
		fmt.Fprintf(w, "Created a PassMan vault in %s.\n\n", dir)
		fmt.Fprintln(w, "Keep these safe; they are shown only this once:")
		field(w, "vault key name", out.VaultKeyName)
		field(w, "vault key", out.VaultKey)
		field(w, "administrator", out.Admin)
		field(w, "admin token", out.AdminToken)
		field(w, "CA certificate", out.CACert)
		fmt.Fprintf(w, "\nStart the server with: passman server run --data %s\n", shellQuote(dir))
		fmt.Fprintln(w, "Then open the vault with the vault key: passman vault open")
	})
}

func (m *cmdline) serverRun(c *cli.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	dir, err := needData(c)
	if err != nil {
		return err
	}
	log, err := serverLogger(c, m.stderr)
	if err != nil {
		return err
	}
	if c.IsSet("nats-listen") && c.IsSet("nats-url") {
		return usagef("--nats-listen and --nats-url exclude each other")
	}
	if idle := c.Duration("session-idle"); idle < time.Minute || idle > 24*time.Hour {
		return usagef("--session-idle must be from 1m to 24h, not %s", idle)
	}
	server.TuneGC()
	srv, err := server.Start(server.Config{
		DataDir: dir, Listen: c.String("listen"), Logger: log, Vault: m.vault,
		NATSListen: c.String("nats-listen"), NATSURL: c.String("nats-url"),
		SessionIdle: c.Duration("session-idle"),
	})
	if err != nil {
		return fmt.Errorf("starting server: %w", err)
	}
	return m.serveUntilStopped(srv, log)
}

// serveUntilStopped blocks until the process is asked to stop or the API
// stops serving, then closes srv.
func (m *cmdline) serveUntilStopped(srv *server.Server, log hclog.Logger) error {
	ctx, cancel := m.stopContext()
	defer cancel()
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case serveErr = <-srv.Done():
		log.Error("api stopped serving", "error", serveErr)
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping server: %w", err)
	}
	return serveErr
}
