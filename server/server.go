// Package server assembles a PassMan server: it creates a data directory
// with Init, and Start opens the store, keeps the vault closed until someone
// opens it with a vault key, and serves the HTTPS API.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/bus"

	"github.com/passman-dev/passman/server/httpapi"
	"github.com/passman-dev/passman/server/pki"
	"github.com/passman-dev/passman/server/service"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
	"github.com/passman-dev/passman/web"
)

// Files in a data directory, besides the CA's.
const (
	dbDir          = "db"
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
	natsSeedFile   = "nats-server.nk"
	natsDir        = "nats"
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
	if err := initNATSKey(dir); err != nil {
		return nil, err
	}
	if err := initJobsKey(dir); err != nil {
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

// initNATSKey creates the nkey the server's own NATS connection uses.
func initNATSKey(dir string) error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("creating NATS key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(filepath.Join(dir, natsSeedFile), seed, 0o600)
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
	// NATSListen is the embedded NATS server's address. Default
	// 127.0.0.1:4222; port 0 picks a free port.
	NATSListen string
	// NATSURL points at an external NATS cluster instead of the embedded
	// server; its operator configures agents' permissions.
	NATSURL string
	// NoNATS runs without NATS: changes on targets are recorded and wait.
	NoNATS bool
	// SessionIdle ends a web console session unused that long. Default
	// 15 minutes.
	SessionIdle time.Duration
}

// Server is a running PassMan server.
type Server struct {
	log    hclog.Logger
	st     *store.Store
	svc    *service.Service
	bus    *bus.Bus
	http   *http.Server
	ln     net.Listener
	done   chan error
	cancel context.CancelFunc
	loop   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Start opens the store with the vault closed, starts NATS and the job
// loop, and serves the API.
func Start(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "passman"})
	}
	log := cfg.Logger
	certPEM, keyPEM, err := readServerCert(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := pki.ServerTLSConfig(certPEM, keyPEM)
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
	caPEM, err := os.ReadFile(CACertPath(cfg.DataDir))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	cfg.Service.CACert = caPEM
	if cfg.Service.JobsKey, err = loadJobsKey(cfg.DataDir, log); err != nil {
		st.Close()
		return nil, err
	}
	v := vault.New(st, log.Named("vault"), cfg.Vault)
	svc := service.New(st, v, log.Named("service"), cfg.Service)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{log: log, st: st, svc: svc, done: make(chan error, 1), cancel: cancel}
	if err := svc.Resume(); err != nil {
		s.Close()
		return nil, err
	}
	if !cfg.NoNATS {
		if err := s.startBus(ctx, cfg, tlsCfg, caPEM); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.loop.Add(1)
	go func() { defer s.loop.Done(); svc.Run(ctx) }()
	if err := s.serve(cfg, tlsCfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startBus starts NATS and feeds agents' events and heartbeats to the
// service.
func (s *Server) startBus(ctx context.Context, cfg Config, tlsCfg *tls.Config, caPEM []byte) error {
	seed, err := os.ReadFile(filepath.Join(cfg.DataDir, natsSeedFile))
	if err != nil {
		return fmt.Errorf("reading NATS key: %w", err)
	}
	clientTLS, err := pki.ClientTLSConfig(caPEM)
	if err != nil {
		return err
	}
	b, err := bus.Start(ctx, bus.Options{Listen: cfg.NATSListen, URL: cfg.NATSURL,
		StoreDir: filepath.Join(cfg.DataDir, natsDir), ServerTLS: tlsCfg, ClientTLS: clientTLS,
		Seed: seed, AgentByKey: s.svc.AgentByNATSKey, Logger: s.log.Named("bus")})
	if err != nil {
		return err
	}
	s.bus = b
	s.svc.SetBus(b)
	if err := b.ServeRequests(ctx, wire.AcceptSubjects, s.svc.HandleAccept); err != nil {
		return err
	}
	if err := b.ServeRequests(ctx, wire.ReportSubjects, s.svc.HandleReport); err != nil {
		return err
	}
	if err := b.ConsumeEvents(ctx, s.svc.HandleEvent); err != nil {
		return err
	}
	return b.SubscribeHeartbeats(func(agentID string, data []byte) {
		var hb wire.Heartbeat
		if json.Unmarshal(data, &hb) == nil {
			s.svc.Heartbeat(agentID, &hb)
		}
	})
}

// serve starts the HTTPS API.
func (s *Server) serve(cfg Config, tlsCfg *tls.Config) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           handler(s.svc, cfg, s.log),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// HTTP/1.1 only: for a JSON API of small requests it answers about
		// half again as many requests per second as HTTP/2 on two cores.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog: s.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{
			ForceLevel: hclog.Debug}),
	}
	go func() { s.done <- s.http.ServeTLS(ln, "", "") }()
	nats := "off"
	if s.bus != nil {
		nats = s.bus.URLs()[0]
	}
	s.log.Info("server started", "api", "https://"+ln.Addr().String(), "nats", nats, "vault", "closed")
	return nil
}

// handler serves the API under /v1 and the web console everywhere else.
func handler(svc *service.Service, cfg Config, log hclog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", httpapi.New(svc, httpapi.Options{NATSKey: natsPublicKey(cfg.DataDir),
		SessionIdle: cfg.SessionIdle, Now: cfg.Service.Now, Log: log.Named("api")}))
	mux.Handle("/", web.Handler())
	return mux
}

// natsPublicKey returns the public half of the server's NATS nkey, or ""
// when it cannot be read.
func natsPublicKey(dir string) string {
	seed, err := os.ReadFile(filepath.Join(dir, natsSeedFile))
	if err != nil {
		return ""
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return ""
	}
	pub, _ := kp.PublicKey()
	return pub
}

// NATSURLs returns the URLs agents connect to, or nil without NATS.
func (s *Server) NATSURLs() []string {
	if s.bus == nil {
		return nil
	}
	return s.bus.URLs()
}

func readServerCert(dir string) (cert, key []byte, err error) {
	cert, err1 := os.ReadFile(filepath.Join(dir, serverCertFile))
	key, err2 := os.ReadFile(filepath.Join(dir, serverKeyFile))
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("reading API certificate: %w", err)
	}
	return cert, key, nil
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
		var err error
		if s.http != nil {
			err = s.http.Shutdown(ctx)
		}
		s.cancel()
		s.loop.Wait()
		if s.bus != nil {
			s.bus.Close()
		}
		s.svc.Vault().Close()
		s.closeErr = errors.Join(err, s.st.Close())
		s.log.Info("server stopped")
	})
	return s.closeErr
}
