package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/agent"
	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/vault"
)

// The demo objects passman dev creates.
const (
	demoFolder  = "demo"
	demoTarget  = "demo/web01"
	demoAccount = "demo/web01/app"
)

// devOptions configures startDev.
type devOptions struct {
	// dataDir is the data directory; empty means a new temporary one,
	// removed by stop.
	dataDir string
	// listen is the API's address.
	listen string
	// plugins is the directory of the driver plugins; empty means the
	// directory of this program.
	plugins string
	// log receives the server's log.
	log hclog.Logger
	// vault configures the vault's key derivation.
	vault vault.Options
}

// devEnv is a running all-in-one setup: a server with an open vault and
// the demo objects.
type devEnv struct {
	srv     *server.Server
	dataDir string
	temp    bool
	// addr is the API's URL, https://host:port.
	addr string
	// token is the administrator's API token.
	token secret.Value
	// consolePassword is the web console user's password.
	consolePassword secret.Value
	// caCert is the path of the CA certificate to trust.
	caCert string
	// stopAgent stops the local agent; agentErr says why it did not run.
	stopAgent func() error
	agentErr  error
}

// devOutput is what passman dev prints with --output json.
type devOutput struct {
	Addr    string `json:"addr"`
	Token   string `json:"token"`
	CACert  string `json:"ca_cert"`
	DataDir string `json:"data_dir"`
	// ConsoleUser and ConsolePassword log in to the web console at Addr.
	ConsoleUser     string `json:"console_user"`
	ConsolePassword string `json:"console_password"`
}

// devConsoleUser is the user passman dev makes for the web console.
const devConsoleUser = "operator"

func (m *cmdline) devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a local server with an open vault and a demo account, for trying PassMan",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data",
				Usage: "data directory (default a temporary one, removed at exit)"},
			listenFlag(),
			&cli.StringFlag{Name: "plugins", Usage: "directory of the driver plugins " +
				"(default: the directory of this program)"},
		}, logFlags()...),
		Action: act(m.dev),
	}
}

func (m *cmdline) dev(c *cli.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	log, err := serverLogger(c, m.stderr)
	if err != nil {
		return err
	}
	server.TuneGC()
	env, err := startDev(devOptions{
		dataDir: c.String("data"), listen: c.String("listen"), log: log, vault: m.vault,
		plugins: c.String("plugins"),
	})
	if err != nil {
		return err
	}
	if err := m.printDevBanner(c, env); err != nil {
		return errors.Join(err, env.stop())
	}
	return errors.Join(m.serveUntilStopped(env.srv, log), env.removeTemp())
}

// startDev starts a server in a new data directory, opens its vault and
// creates the demo objects.
func startDev(o devOptions) (env *devEnv, err error) {
	env = &devEnv{dataDir: o.dataDir}
	if env.dataDir == "" {
		if env.dataDir, err = os.MkdirTemp("", "passman-dev-"); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		env.temp = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.stop())
		}
	}()
	if env.dataDir, err = filepath.Abs(env.dataDir); err != nil {
		return env, fmt.Errorf("resolving data directory: %w", err)
	}
	b, err := server.Init(env.dataDir, server.InitOptions{Vault: o.vault}, o.log.Named("init"))
	if err != nil {
		return env, fmt.Errorf("creating vault: %w", err)
	}
	defer b.VaultKey.Wipe()
	env.token, env.caCert = b.AdminToken, server.CACertPath(env.dataDir)
	env.srv, err = server.Start(server.Config{
		DataDir: env.dataDir, Listen: o.listen, Logger: o.log, Vault: o.vault,
		NATSListen: "127.0.0.1:0",
	})
	if err != nil {
		return env, fmt.Errorf("starting server: %w", err)
	}
	env.addr = "https://" + dialAddr(env.srv.Addr())
	if err := env.seed(b.VaultKey); err != nil {
		return env, err
	}
	return env, env.startAgent(o.plugins, o.log)
}

// dialAddr returns the address a local client reaches a listener on: the
// loopback address when it listens on every address.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// seed opens the vault and creates the demo folder, target and account.
func (env *devEnv) seed(vaultKey secret.Value) error {
	caPEM, err := os.ReadFile(env.caCert)
	if err != nil {
		return fmt.Errorf("reading CA certificate: %w", err)
	}
	cl, err := client.New(client.Config{Addr: env.addr, Token: env.token, CACert: caPEM})
	if err != nil {
		return fmt.Errorf("configuring client: %w", err)
	}
	if _, err := cl.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(vaultKey)}); err != nil {
		return fmt.Errorf("opening vault: %w", err)
	}
	if err := env.consoleUser(cl); err != nil {
		return err
	}
	if _, err := cl.CreateFolder(demoFolder); err != nil {
		return fmt.Errorf("creating demo folder: %w", err)
	}
	envFile := filepath.Join(env.dataDir, "demo", "app.env")
	_, err = cl.CreateTarget(&api.TargetCreateRequest{
		Path: demoTarget, Type: "file", Address: "localhost", Zone: "local",
		Params: map[string]string{"path": envFile, "key": "DB_PASSWORD"},
	})
	if err != nil {
		return fmt.Errorf("creating demo target: %w", err)
	}
	_, err = cl.CreateAccount(&api.AccountCreateRequest{Path: demoAccount,
		Credentials: []api.CredentialSpec{{Type: model.Password, Generate: true}}})
	if err != nil {
		return fmt.Errorf("creating demo account: %w", err)
	}
	return writeDemoFile(cl, envFile)
}

// consoleUser creates a user with a random password and every permission,
// to log in to the web console with.
func (env *devEnv) consoleUser(cl *client.Client) error {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	env.consolePassword = secret.FromString(base64.RawURLEncoding.EncodeToString(b))
	_, err := cl.CreateUser(&api.UserCreateRequest{Name: devConsoleUser, Password: api.NewSecret(env.consolePassword)})
	if err != nil {
		return fmt.Errorf("creating console user: %w", err)
	}
	_, err = cl.Grant(&api.GrantRequest{Path: "", To: devConsoleUser, Ops: []string{"all"}})
	if err != nil {
		return fmt.Errorf("granting console user: %w", err)
	}
	return nil
}

// startAgent enrolls a local agent for the demo's zone and runs it with the
// driver plugins of pluginDir. When the plugins cannot start, the server
// keeps running and the banner says why.
func (env *devEnv) startAgent(pluginDir string, log hclog.Logger) error {
	caPEM, err := os.ReadFile(env.caCert)
	if err != nil {
		return fmt.Errorf("reading CA certificate: %w", err)
	}
	cl, err := client.New(client.Config{Addr: env.addr, Token: env.token, CACert: caPEM})
	if err != nil {
		return fmt.Errorf("configuring client: %w", err)
	}
	tok, err := cl.CreateAgentToken(&api.AgentTokenRequest{Zone: "local"})
	if err != nil {
		return fmt.Errorf("creating enrollment token: %w", err)
	}
	dir := filepath.Join(env.dataDir, "agent")
	err = agent.Enroll(context.Background(), agent.EnrollOptions{Server: env.addr,
		Token: secret.FromString(tok.Token), CACert: caPEM, DataDir: dir, Name: "local",
		Version: version})
	if err != nil {
		return fmt.Errorf("enrolling the local agent: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := agent.Config{DataDir: dir, Logger: log.Named("local-agent"), Version: version}
	go func() { done <- runAgent(ctx, cfg, pluginDir, log.Named("local-agent")) }()
	env.stopAgent = func() error { cancel(); return <-done }
	select {
	case err := <-done:
		env.stopAgent = func() error { return nil }
		env.agentErr = err
	case <-time.After(3 * time.Second):
	}
	return nil
}

// writeDemoFile writes the demo account's password into the file the demo
// target stands for, so that the target starts out holding it.
func writeDemoFile(cl *client.Client, path string) error {
	co, err := cl.Checkout(&api.CheckoutRequest{Path: demoAccount, Type: model.Password,
		Reason: "passman dev: seeding the demo target"})
	if err != nil {
		return fmt.Errorf("reading demo password: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating demo target directory: %w", err)
	}
	if err := os.WriteFile(path, []byte("DB_PASSWORD="+co.Value+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing demo target file: %w", err)
	}
	return nil
}

// stop closes the server and removes a temporary data directory.
func (env *devEnv) stop() error {
	var err error
	if env.stopAgent != nil {
		err = env.stopAgent()
		env.stopAgent = nil
	}
	if env.srv != nil {
		err = errors.Join(err, env.srv.Close())
		env.srv = nil
	}
	return errors.Join(err, env.removeTemp())
}

// removeTemp removes the data directory if startDev created it.
func (env *devEnv) removeTemp() error {
	if !env.temp {
		return nil
	}
	env.temp = false
	if err := os.RemoveAll(env.dataDir); err != nil {
		return fmt.Errorf("removing data directory: %w", err)
	}
	return nil
}

// printDevBanner prints what to export to use the dev server, and what to
// try. The token is printed here, once: that is what the command is for.
func (m *cmdline) printDevBanner(c *cli.Context, env *devEnv) error {
	out := devOutput{Addr: env.addr, Token: string(env.token.Reveal()), CACert: env.caCert,
		DataDir: env.dataDir, ConsoleUser: devConsoleUser,
		ConsolePassword: string(env.consolePassword.Reveal())}
	return m.emit(c, out, func(w io.Writer) {
		fmt.Fprintf(w, "PassMan dev server at %s, vault open, data in %s\n\n",
			out.Addr, out.DataDir)
		fmt.Fprintf(w, "Web console: %s/ (user %s, password %s; the browser asks to trust the CA %s)\n\n",
			out.Addr, out.ConsoleUser, out.ConsolePassword, out.CACert)
		fmt.Fprintln(w, "Paste into another shell:")
		fmt.Fprintf(w, "export %s=%s\n", client.EnvAddr, shellQuote(out.Addr))
		fmt.Fprintf(w, "export %s=%s\n", client.EnvToken, shellQuote(out.Token))
		fmt.Fprintf(w, "export %s=%s\n\n", client.EnvCACert, shellQuote(out.CACert))
		fmt.Fprintln(w, "Then try:")
		fmt.Fprintln(w, "  passman account list")
		fmt.Fprintf(w, "  passman account reset %s --type password --generate --wait\n", demoAccount)
		fmt.Fprintf(w, "  passman account checkout %s --type password\n", demoAccount)
		fmt.Fprintf(w, "  cat %s\n\n", filepath.Join(env.dataDir, "demo", "app.env"))
		if env.agentErr != nil {
			fmt.Fprintf(w, "The local agent did not start (%v): changes on the target wait "+
				"for an agent. Build the driver plugins with make build.\n", env.agentErr)
		} else {
			fmt.Fprintln(w, "A local agent of zone local runs the file driver: a reset changes "+
				"the demo target's file for real.")
		}
		if env.temp {
			fmt.Fprintln(w, "Press Ctrl-C to stop; the data directory is then removed.")
		} else {
			fmt.Fprintln(w, "Press Ctrl-C to stop.")
		}
	})
}

// shellQuote quotes s for a POSIX shell when it holds characters the shell
// would treat specially.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("@%+=:,./_-", r))
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safe(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
