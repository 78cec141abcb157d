// Package testserver starts a real PassMan server for tests: a new data
// directory, Pebble on disk, the HTTPS API on a random loopback port, and
// a client holding the administrator's token. Its logs go to a buffer that
// tests scan for secrets.
package testserver

import (
	"bytes"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/service"
	"github.com/passman-dev/passman/server/vault"
)

// FastVault is a vault configuration with a cheap key derivation, so that
// tests that open the vault many times stay fast. Production uses
// vault.DefaultKDF.
var FastVault = vault.Options{
	KDF:           vault.KDF{Time: 1, Memory: 8 * 1024, Threads: 1},
	WrongKeyDelay: 20 * time.Millisecond,
}

// Server is a running test server.
type Server struct {
	*server.Server
	// Options configures the service; set it through StartWith.
	Options service.Options
	Dir     string
	// natsListen is the NATS address, kept across restarts.
	natsListen string
	natsURL    string
	// sessionIdle is Config.SessionIdle, kept across restarts.
	sessionIdle time.Duration
	// logLevel is Config.LogLevel, kept across restarts.
	logLevel  hclog.Level
	Bootstrap *service.Bootstrap
	CACert    []byte
	// Admin is a client with the administrator's token.
	Admin *client.Client
	Logs  *logbuf.Buffer
}

// Config shapes a test server. The zero Config is a server on loopback.
type Config struct {
	// Service configures the operations layer: clocks, deadlines, ticks.
	Service service.Options
	// Hosts are extra names and addresses of the certificate, such as the
	// address of a network namespace's gateway that agents dial.
	Hosts []string
	// NATSURL points the server at an external NATS server instead of
	// the embedded one.
	NATSURL string
	// NATSHost is the address the embedded NATS server listens on.
	// Default 127.0.0.1. Its port is chosen once and kept across restarts,
	// so that enrolled agents find it again.
	NATSHost string
	// SessionIdle ends web console sessions unused that long; zero is the
	// server's default.
	SessionIdle time.Duration
	// LogLevel is the server's log level. Default debug, so that the
	// tests' scans for secrets read everything; benchmarks run at info,
	// the level a deployed server logs at.
	LogLevel hclog.Level
}

// logger returns the server's logger, writing to logs at cfg's level.
func (cfg Config) logger(logs *logbuf.Buffer) hclog.Logger {
	level := cfg.LogLevel
	if level == hclog.NoLevel {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: "passman", Output: logs, Level: level})
}

// Start initialises a data directory and starts a server on it with the
// vault open.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Config{})
}

// StartWith is Start with a Config.
func StartWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := startClosed(t, cfg)
	s.OpenVault(t)
	return s
}

// OpenVault opens the vault with the bootstrap vault key.
func (s *Server) OpenVault(t testing.TB) {
	t.Helper()
	if _, err := s.Admin.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(s.Bootstrap.VaultKey)}); err != nil {
		t.Fatalf("opening vault: %v", err)
	}
}

// StartClosed is Start with the vault left closed.
func StartClosed(t testing.TB) *Server {
	t.Helper()
	return startClosed(t, Config{})
}

func startClosed(t testing.TB, cfg Config) *Server {
	t.Helper()
	dir := t.TempDir()
	logs := &logbuf.Buffer{}
	log := cfg.logger(logs)
	hosts := append([]string{"localhost", "127.0.0.1"}, cfg.Hosts...)
	boot, err := server.Init(dir, server.InitOptions{Vault: FastVault, Hosts: hosts}, log)
	if err != nil {
		t.Fatalf("initializing server: %v", err)
	}
	if cfg.NATSHost == "" {
		cfg.NATSHost = "127.0.0.1"
	}
	s := &Server{Dir: dir, Bootstrap: boot, Logs: logs, Options: cfg.Service, natsURL: cfg.NATSURL,
		sessionIdle: cfg.SessionIdle, logLevel: cfg.LogLevel,
		natsListen: net.JoinHostPort(cfg.NATSHost, freePort(t, cfg.NATSHost))}
	s.restart(t, log)
	return s
}

// Adopt starts a server, vault open, on a data directory the test
// initialised itself with server.Init.
func Adopt(t testing.TB, dir string, boot *service.Bootstrap, cfg Config) *Server {
	t.Helper()
	logs := &logbuf.Buffer{}
	log := cfg.logger(logs)
	if cfg.NATSHost == "" {
		cfg.NATSHost = "127.0.0.1"
	}
	s := &Server{Dir: dir, Bootstrap: boot, Logs: logs, Options: cfg.Service, natsURL: cfg.NATSURL,
		sessionIdle: cfg.SessionIdle, logLevel: cfg.LogLevel,
		natsListen: net.JoinHostPort(cfg.NATSHost, freePort(t, cfg.NATSHost))}
	s.restart(t, log)
	s.OpenVault(t)
	return s
}

// freePort returns a port that is free on host now.
func freePort(t testing.TB, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func (s *Server) restart(t testing.TB, log hclog.Logger) {
	t.Helper()
	srv, err := server.Start(server.Config{DataDir: s.Dir, Listen: "127.0.0.1:0", Logger: log,
		Vault: FastVault, NATSListen: s.natsListen, NATSURL: s.natsURL, Service: s.Options,
		SessionIdle: s.sessionIdle})
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	s.Server = srv
	ca, err := os.ReadFile(server.CACertPath(s.Dir))
	if err != nil {
		t.Fatal(err)
	}
	s.CACert = ca
	s.Admin = s.Client(t, s.Bootstrap.AdminToken.Reveal())
}

// Restart stops the server and starts it again on the same data directory,
// with the vault closed.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.RestartAfter(t, func() {})
}

// RestartAfter stops the server, runs fn while it is down, and starts it
// again on the same data directory, with the vault closed.
func (s *Server) RestartAfter(t testing.TB, fn func()) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("stopping server: %v", err)
	}
	fn()
	s.restart(t, Config{LogLevel: s.logLevel}.logger(s.Logs))
}

// Client returns a client that sends token.
func (s *Server) Client(t testing.TB, token []byte) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addr: s.Addr(), Token: secretOf(token), CACert: s.CACert})
	if err != nil {
		t.Fatalf("making client: %v", err)
	}
	return c
}

// CheckLogs fails the test if any of the secrets appears in the logs.
func (s *Server) CheckLogs(t testing.TB, secrets ...string) {
	t.Helper()
	logs := s.Logs.String()
	for _, sec := range secrets {
		if sec != "" && bytes.Contains([]byte(logs), []byte(sec)) {
			t.Errorf("a secret appears in the server log")
		}
	}
}
