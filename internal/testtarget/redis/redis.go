// Package redis runs a real Redis server for tests, with its own
// configuration in the test's temporary directory, and manages the ACL
// users that tests log in with.
//
// The server listens on a free port of 127.0.0.1, in plain TCP or TLS,
// and has its default user disabled and one administrator, AdminUser,
// with a random password and every permission. It keeps no data on disk;
// its users are in its configuration file or an ACL file, which CONFIG
// REWRITE and ACL SAVE write and a restart reads again. It records every
// command in its slow log, so that tests can see what the server keeps of
// them. It needs the apt package redis-server; scripts/test-deps installs
// it.
package redis

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testtarget/proc"
)

// Binary is where the server is expected.
const Binary = "/usr/bin/redis-server"

// AdminUser is the ACL user that may do anything on a test server.
const AdminUser = "admin"

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 15 * time.Second

// Options says how to run a server. The zero Options keeps the users in
// the configuration file.
type Options struct {
	// ACLFile keeps the users in an ACL file beside the configuration
	// file, which ACL SAVE writes, rather than in the configuration file,
	// which CONFIG REWRITE writes.
	ACLFile bool
	// TLS serves TLS only, with a new self-signed certificate for
	// 127.0.0.1, instead of plain TCP.
	TLS bool
}

// Server is a running redis-server.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string
	// AdminPassword is AdminUser's password. A test that changes it on
	// the server sets it here, for the helpers that log in as AdminUser.
	AdminPassword string
	// Config is the path of the server's configuration file.
	Config string
	// ACLFile is the path of the server's ACL file, or "" when the users
	// are in Config.
	ACLFile string
	// CACert is the server's TLS certificate in PEM, which is its own
	// CA, or "" for a server without TLS.
	CACert string

	logs logbuf.Buffer
	mu   sync.Mutex
	// proc is the server's current run.
	proc *proc.Process
}

// Start starts a server with the zero Options.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts redis-server in the foreground, waits until AdminUser
// can log in and PING it, and stops it at cleanup.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	requireBinary(t)
	// go-redis logs dial failures on stderr, which the polling below
	// expects; the test's own messages say what went wrong.
	logging.Disable()
	s := &Server{Addr: freeAddr(t), AdminPassword: Password(t)}
	s.writeConfig(t, t.TempDir(), opts)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("redis-server logs:\n%s", s.Logs())
		}
	})
	s.start(t)
	return s
}

// Restart stops the server and starts it again on the same address, with
// the users and settings its files hold.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop stops the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p != nil {
		p.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(Binary, s.Config)
	cmd.Dir = filepath.Dir(s.Config)
	p := proc.Start(t, "redis-server", cmd, &s.logs)
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := p.Wait(startTimeout, s.ping); err != nil {
		t.Fatalf("redis-server does not answer on %s: %v\n%s", s.Addr, err, s.Logs())
	}
}

// writeConfig writes redis.conf, and users.acl with opts.ACLFile, into
// dir. The files hold the administrator's password, so only their owner
// may read them.
func (s *Server) writeConfig(t testing.TB, dir string, opts Options) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	lines := []string{"port " + port}
	if opts.TLS {
		lines, s.CACert = writeCertificate(t, dir, port)
	}
	lines = append(lines,
		"bind 127.0.0.1",
		"dir "+dir,
		"daemonize no",
		`logfile ""`,
		"loglevel notice",
		`save ""`,
		"appendonly no",
		"slowlog-log-slower-than 0",
		"slowlog-max-len 4096",
	)
	users := []string{
		"user default off",
		"user " + AdminUser + " on >" + s.AdminPassword + " ~* &* +@all",
	}
	s.Config = filepath.Join(dir, "redis.conf")
	if opts.ACLFile {
		s.ACLFile = filepath.Join(dir, "users.acl")
		writeFile(t, s.ACLFile, joinLines(users))
		lines = append(lines, "aclfile "+s.ACLFile)
	} else {
		lines = append(lines, users...)
	}
	writeFile(t, s.Config, joinLines(lines))
}

// joinLines joins lines into the text of a file.
func joinLines(lines []string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func (s *Server) ping() error {
	c := s.client(AdminUser, s.AdminPassword)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// client returns a client that logs in as user, makes one try per
// command and logs nothing.
func (s *Server) client(user, password string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:            s.Addr,
		TLSConfig:       s.tlsConfig(),
		Username:        user,
		Password:        password,
		MaxRetries:      -1,
		DialerRetries:   1,
		PoolSize:        1,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     5 * time.Second,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
}

// freeAddr returns 127.0.0.1 and a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// requireBinary stops the test when redis-server is missing: it skips a
// developer's test run without root, where it cannot be installed, and
// fails everywhere else.
func requireBinary(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skipf("%s is missing: install the apt package redis-server", Binary)
	}
	t.Fatalf("%s is missing: run scripts/test-deps, which installs the apt package redis-server",
		Binary)
}
