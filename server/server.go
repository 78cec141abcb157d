// Package server assembles a PassMan server: it creates a data directory
// with Init, and Start opens the store, keeps the vault closed until someone
// opens it with a vault key, and serves the HTTPS API.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/server/httpapi"
	"github.com/passman-dev/passman/server/pki"
	"github.com/passman-dev/passman/server/service"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// Files in a data directory, besides the CA's.
const (
	dbDir          = "db"
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// DefaultListen is the API's default address: loopback only, so that a
// new server is not exposed before its operator decides to.
const DefaultListen = "127.0.0.1:8443"

var (
	// ErrExists is returned by Init for a data directory that holds a vault.
	ErrExists = errors.New("the data directory already holds a PassMan vault")
)

// InitOptions configures Init.
type InitOptions struct {
	// Admin is the name of the first administrator. Default "admin".
	Admin string
	// Hosts are the names and addresses the API certificate is valid for.
	// Default localhost, 127.0.0.1, ::1 and the machine's host name.
	Hosts []string
	// Vault configures the vault's key derivation.
	Vault vault.Options
}

// Init creates a new data directory: the store with its vault, the CA and
// the API's certificate. It returns the first vault key and the
// administrator's token, which are shown once and kept nowhere in clear.
func Init(dir string, opts InitOptions, log hclog.Logger) (*service.Bootstrap, error) {
	if opts.Admin == "" {
		opts.Admin = "admin"
	}
	if len(opts.Hosts) == 0 {
		opts.Hosts = defaultHosts()
	}
	if _, err := os.Stat(filepath.Join(dir, dbDir)); err == nil {
		return nil, ErrExists
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := initTLS(dir, opts.Hosts); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(dir, dbDir), log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return service.Initialize(st, vault.New(st, log, opts.Vault), opts.Admin)
}

func defaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		hosts = append(hosts, h)
	}
	return hosts
}

// initTLS creates the CA and the API server's certificate.
func initTLS(dir string, hosts []string) error {
	ca, err := pki.NewCA("PassMan CA", 10*365*24*time.Hour)
	if err != nil {
		return fmt.Errorf("creating CA: %w", err)
	}
	if err := ca.Save(dir); err != nil {
		return fmt.Errorf("saving CA: %w", err)
	}
	certPEM, keyPEM, err := ca.IssueServer("passman server", hosts, 2*365*24*time.Hour)
	if err != nil {
		return fmt.Errorf("issuing API certificate: %w", err)
	}
	if err := pki.WriteFileAtomic(filepath.Join(dir, serverCertFile), certPEM, 0o644); err != nil {
		return err
	}
	return pki.WriteFileAtomic(filepath.Join(dir, serverKeyFile), keyPEM, 0o600)
}

// CACertPath returns the path of the CA certificate clients should trust.
func CACertPath(dir string) string { return filepath.Join(dir, pki.CACertFile) }

// Config configures a running server.
type Config struct {
	// DataDir is the directory Init created. Required.
	DataDir string
	// Listen is the API's address. Default DefaultListen.
	Listen string
	// Logger receives the server's logs. Default a logger to stderr.
	Logger hclog.Logger
	// Vault configures the vault.
	Vault vault.Options
	// Service configures the operations layer.
	Service service.Options
}

// Server is a running PassMan server.
type Server struct {
	log  hclog.Logger
	st   *store.Store
	svc  *service.Service
	http *http.Server
	ln   net.Listener
	done chan error

	closeOnce sync.Once
	closeErr  error
}

// Start opens the store with the vault closed and serves the API.
func Start(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "passman"})
	}
	log := cfg.Logger
	tlsCfg, err := loadTLS(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, dbDir)); err != nil {
		return nil, fmt.Errorf("%w (in %s)", vault.ErrNotInitialized, cfg.DataDir)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, dbDir), log.Named("store"))
	if err != nil {
		return nil, err
	}
	v := vault.New(st, log.Named("vault"), cfg.Vault)
	svc := service.New(st, v, log.Named("service"), cfg.Service)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s := &Server{log: log, st: st, svc: svc, ln: ln, done: make(chan error, 1)}
	s.http = &http.Server{
		Handler:           httpapi.New(svc, log.Named("api")),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	go func() { s.done <- s.http.ServeTLS(ln, "", "") }()
	log.Info("server started", "api", "https://"+ln.Addr().String(), "vault", "closed")
	return s, nil
}

func loadTLS(dir string) (*tls.Config, error) {
	cert, err1 := os.ReadFile(filepath.Join(dir, serverCertFile))
	key, err2 := os.ReadFile(filepath.Join(dir, serverKeyFile))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("reading API certificate: %w", err)
	}
	return pki.ServerTLSConfig(cert, key)
}

// Addr returns the API's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Service returns the server's operations layer.
func (s *Server) Service() *service.Service { return s.svc }

// Done is closed, with the serving error, when the API stops serving.
func (s *Server) Done() <-chan error { return s.done }

// Close stops serving, waits for requests in flight, wipes the data key
// and closes the store. Later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		s.svc.Vault().Close()
		s.closeErr = errors.Join(err, s.st.Close())
		s.log.Info("server stopped")
	})
	return s.closeErr
}
