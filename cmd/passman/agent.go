package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/agent"
	"github.com/passman-dev/passman/agent/plugins"
	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
)

func (m *cmdline) agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "enroll and run agents, which change credentials on the targets of their zone",
		Subcommands: []*cli.Command{
			{
				Name:  "token",
				Usage: "make enrollment tokens",
				Subcommands: []*cli.Command{{
					Name:  "create",
					Usage: "make a one-time, expiring token that enrolls one agent in a zone",
					Flags: []cli.Flag{
						&cli.StringFlag{Name: "zone", Usage: "zone the agent will serve"},
						&cli.DurationFlag{Name: "ttl", Value: time.Hour,
							Usage: "how long the token can be used"},
					},
					Action: act(m.agentTokenCreate),
				}},
			},
			{Name: "list", Usage: "list the enrolled agents and whether they are online",
				Action: act(m.agentList)},
			m.agentEnrollCommand(),
			m.agentRunCommand(),
			{Name: "nats-config", Usage: "print the authorization block an external NATS " +
				"server needs for the server and the enrolled agents (reload it after each " +
				"enrollment)", Action: act(m.agentNATSConfig)},
		},
	}
}

func (m *cmdline) agentTokenCreate(c *cli.Context) error {
	if err := needFlags(c, "zone"); err != nil {
		return err
	}
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	tok, err := cl.CreateAgentToken(&api.AgentTokenRequest{Zone: c.String("zone"),
		TTLSeconds: int64(c.Duration("ttl") / time.Second)})
	if err != nil {
		return err
	}
	return m.emit(c, tok, func(w io.Writer) {
		fmt.Fprintln(w, tok.Token)
		fmt.Fprintf(m.stderr, "enrolls one agent in zone %s until %s:\n"+
			"  passman agent enroll --server %s --token <token> --data DIR\n",
			tok.Zone, when(tok.Expires), orDash(m.getenv("PASSMAN_ADDR")))
	})
}

func (m *cmdline) agentList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	list, err := cl.ListAgents()
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "ID", "NAME", "ZONE", "STATE", "LAST SEEN", "VERSION", "DRIVERS", "IN FLIGHT")
		for _, a := range list.Agents {
			state := "offline"
			if a.Online {
				state = "online"
			}
			row(w, a.ID, a.Name, a.Zone, state, when(a.LastSeen), orDash(a.Version),
				orDash(strings.Join(a.Drivers, ",")), fmt.Sprint(a.InFlight))
		}
	})
}

func (m *cmdline) agentEnrollCommand() *cli.Command {
	return &cli.Command{
		Name:  "enroll",
		Usage: "register this agent with a server, once, with an enrollment token",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "the server's API address, https://host:port"},
			&cli.StringFlag{Name: "token", Usage: "the one-time enrollment token (it ends " +
				"up in the process list; prefer --token-stdin)"},
			&cli.BoolFlag{Name: "token-stdin", Usage: "read the enrollment token from stdin"},
			&cli.StringFlag{Name: "data", Usage: "the agent's data directory"},
			&cli.StringFlag{Name: "name", Usage: "how the agent is shown (default the host name)"},
			&cli.StringFlag{Name: "cacert", Usage: "CA certificate of the server " +
				"(default $PASSMAN_CACERT)"},
		},
		Action: act(m.agentEnroll),
	}
}

func (m *cmdline) agentEnroll(c *cli.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	if err := needFlags(c, "server", "data"); err != nil {
		return err
	}
	if err := exclusive(c, "token", "token-stdin"); err != nil {
		return err
	}
	tok := secret.FromString(c.String("token"))
	if c.Bool("token-stdin") {
		var err error
		if tok, err = m.readSecret(secretPrompt{what: "enrollment token", fromStdin: true}); err != nil {
			return err
		}
	}
	if tok.IsEmpty() {
		return usagef("missing --token or --token-stdin")
	}
	caPath := cmpOr(c.String("cacert"), m.getenv("PASSMAN_CACERT"))
	var ca []byte
	if caPath != "" {
		var err error
		if ca, err = os.ReadFile(caPath); err != nil {
			return fmt.Errorf("reading CA certificate: %w", err)
		}
	}
	err := agent.Enroll(context.Background(), agent.EnrollOptions{Server: c.String("server"),
		Token: tok, CACert: ca, DataDir: c.String("data"), Name: c.String("name"), Version: version})
	if err != nil {
		return err
	}
	e, err := agent.ReadEnrollment(c.String("data"))
	if err != nil {
		return err
	}
	return m.emit(c, e, func(w io.Writer) {
		fmt.Fprintf(w, "enrolled agent %s in zone %s\n", e.AgentID, e.Zone)
		fmt.Fprintf(w, "run it with: passman agent run --data %s\n", c.String("data"))
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *cmdline) agentRunCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run an enrolled agent until interrupted: it connects out to NATS only",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the agent's data directory"},
			&cli.StringFlag{Name: "plugins", Usage: "directory of the passman-driver-* " +
				"plugins and their SHA256SUMS (default: the directory of this program)"},
			&cli.DurationFlag{Name: "heartbeat", Value: 5 * time.Second,
				Usage: "how often to tell the server the agent is alive"},
		}, logFlags()...),
		Action: act(m.agentRun),
	}
}

func (m *cmdline) agentRun(c *cli.Context) error {
	dir, err := needData(c)
	if err != nil {
		return err
	}
	log, err := serverLogger(c, m.stderr)
	if err != nil {
		return err
	}
	ctx, cancel := m.stopContext()
	defer cancel()
	return runAgent(ctx, agent.Config{DataDir: dir, HeartbeatEvery: c.Duration("heartbeat"),
		Logger: log.Named("agent"), Version: version}, c.String("plugins"), log)
}

// runAgent starts the driver plugins of pluginDir and runs the agent cfg
// describes until ctx is done.
func runAgent(ctx context.Context, cfg agent.Config, pluginDir string, log hclog.Logger) error {
	if pluginDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the plugin directory: %w", err)
		}
		pluginDir = filepath.Dir(exe)
	}
	specs, err := plugins.ReadChecksums(pluginDir)
	if err != nil {
		return fmt.Errorf("reading the plugins of %s: %w", pluginDir, err)
	}
	host := plugins.NewHost(specs, log.Named("plugin"))
	defer host.Close()
	if err := host.Start(ctx); err != nil {
		return fmt.Errorf("starting driver plugins: %w", err)
	}
	cfg.Drivers = host
	return agent.Run(ctx, cfg)
}

func (m *cmdline) agentNATSConfig(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	cfg, err := cl.NATSConfig()
	if err != nil {
		return err
	}
	return m.emit(c, cfg, func(w io.Writer) { fmt.Fprint(w, cfg.Authorization) })
}
