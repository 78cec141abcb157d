// Package postgres runs a real PostgreSQL server for tests: a fresh
// cluster made by initdb in a temporary directory, run by the postgres
// operating system user on a free port of 127.0.0.1, with scram-sha-256
// required for every login and every statement logged. It also creates
// the roles that tests log in as.
//
// Starting a server needs root, to run initdb and postgres as the
// postgres user, and the apt package postgresql; make test installs it.
package postgres

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testtarget/proc"
)

// binGlob finds the server's programs of every installed major version.
const binGlob = "/usr/lib/postgresql/*/bin"

// osUser is the operating system user that owns the cluster and runs
// the server, which refuses to run as root.
const osUser = "postgres"

// SuperUser is the cluster's superuser role.
const SuperUser = "postgres"

// Timeouts of starting and stopping the server.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	// probeTimeout bounds each login that checks whether the server is
	// ready, so that whatever else may answer on its port cannot hold the
	// wait up.
	probeTimeout = time.Second
)

// maxStarts is how many times StartWith tries a new port when another
// process took the one it chose.
const maxStarts = 3

// errPortTaken means the server exited because its port was in use.
var errPortTaken = errors.New("the port was taken")

// Options says how to run a server. The zero Options runs it without
// TLS.
type Options struct {
	// TLS makes the server offer TLS with a new self-signed certificate
	// for 127.0.0.1 and localhost, whose PEM is in Server.CACert.
	TLS bool
	// Config holds extra settings as name=value, each passed to
	// postgres with -c. They take precedence over the package's.
	Config []string
	// HBA holds pg_hba.conf lines put before initdb's, which require
	// scram-sha-256 of every login. The first line that matches a login
	// decides, so lines naming a role change how that role logs in.
	HBA []string
}

// Server is a running PostgreSQL server.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string
	// Port is Addr's port.
	Port int
	// SuperPassword is the password of SuperUser.
	SuperPassword string
	// CACert is the PEM file of the certificate the server presents, or
	// empty without TLS.
	CACert string

	dir string
	bin string
	// proc is the server's current run.
	proc *proc.Process
	logs logbuf.Buffer
	// logStart is where the logs of the last start begin.
	logStart int
}

// Start starts a server with the zero Options and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith makes a new cluster, starts a server on it, waits until the
// superuser can log in with scram-sha-256 and stops the server at
// cleanup, removing the cluster.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	requireRoot(t)
	bin := binDir(t)
	uid, gid := postgresIDs(t)
	s := &Server{SuperPassword: Password(t)}
	s.dir, s.bin = ownedDir(t, uid, gid), bin
	t.Cleanup(func() { _ = os.RemoveAll(s.dir) })

	initdb(t, bin, s.dir, s.SuperPassword, uid, gid)
	prependHBA(t, filepath.Join(s.dir, "data", "pg_hba.conf"), opts.HBA)
	var settings []string
	if opts.TLS {
		settings = s.writeCert(t, uid, gid)
	}
	settings = append(settings, opts.Config...)
	// Cleanups run last first: the server stops before its directory goes.
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("postgres logs:\n%s", s.Logs())
		}
	})
	s.run(t, filepath.Join(bin, "postgres"), settings, uid, gid)
	return s
}

// run starts the server on a free port and waits until it is ready.
// Another process may take the port before the server does; the server
// then exits, and run tries another port.
func (s *Server) run(t testing.TB, postgres string, settings []string, uid, gid uint32) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s.Addr, s.Port = freeAddr(t)
		args := s.serverArgs(filepath.Join(s.dir, "data"), settings)
		s.start(t, postgres, args, uid, gid)
		err := s.waitReady(t)
		if err == nil {
			return
		}
		if !errors.Is(err, errPortTaken) || attempt == maxStarts {
			t.Fatalf("starting postgres: %v\n%s", err, s.Logs())
		}
	}
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop stops the server with a fast shutdown and waits for it to exit.
// It is safe to call more than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(syscall.SIGINT, stopTimeout)
	}
}

// binDir returns the bin directory of the newest installed PostgreSQL.
func binDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob(binGlob)
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(a) - majorOf(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatalf("no PostgreSQL server under %s: run make test, which installs the apt "+
		"package postgresql", binGlob)
	return ""
}

// majorOf returns the major version in a path like
// /usr/lib/postgresql/16/bin, or 0.
func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// postgresIDs returns the uid and gid of the postgres user.
func postgresIDs(t testing.TB) (uid, gid uint32) {
	t.Helper()
	u, err := user.Lookup(osUser)
	if err != nil {
		t.Fatalf("looking up the %s user, which the apt package postgresql creates: %v",
			osUser, err)
	}
	uid64, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid64, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("the %s user has uid %q and gid %q", osUser, u.Uid, u.Gid)
	}
	return uint32(uid64), uint32(gid64)
}

// ownedDir makes a private directory that the postgres user owns. The
// test's own temporary directory will not do: its parents are root's
// and closed to other users.
func ownedDir(t testing.TB, uid, gid uint32) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "passman-pg-")
	if err == nil {
		err = os.Chown(dir, int(uid), int(gid))
	}
	if err != nil {
		t.Fatalf("making the cluster's directory: %v", err)
	}
	return dir
}

// writeOwned writes a file of the postgres user, readable by it alone.
func writeOwned(t testing.TB, path string, data []byte, uid, gid uint32) {
	t.Helper()
	err := os.WriteFile(path, data, 0o600)
	if err == nil {
		err = os.Chown(path, int(uid), int(gid))
	}
	if err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// freeAddr returns a free port of 127.0.0.1.
func freeAddr(t testing.TB) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port
}

// asPostgres returns a command that runs as the postgres user in dir.
func asPostgres(name, dir string, uid, gid uint32, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid},
		Setpgid:    true,
	}
	return cmd
}

// initdb makes a cluster in dir/data whose superuser logs in with
// password. The password goes through a file that initdb reads and that
// is removed at once, never through a command line.
func initdb(t testing.TB, bin, dir, password string, uid, gid uint32) {
	t.Helper()
	pwfile := filepath.Join(dir, "pwfile")
	writeOwned(t, pwfile, []byte(password+"\n"), uid, gid)
	defer os.Remove(pwfile)
	cmd := asPostgres(filepath.Join(bin, "initdb"), dir, uid, gid,
		"-D", filepath.Join(dir, "data"), "-U", SuperUser, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync",
		"--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
}

// prependHBA puts lines before the rules of the pg_hba.conf at path.
func prependHBA(t testing.TB, path string, lines []string) {
	t.Helper()
	if len(lines) == 0 {
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading pg_hba.conf: %v", err)
	}
	hba := strings.Join(lines, "\n") + "\n" + string(old)
	// The file keeps its owner and mode.
	if err := os.WriteFile(path, []byte(hba), 0o600); err != nil {
		t.Fatalf("writing pg_hba.conf: %v", err)
	}
}

// serverArgs returns postgres's command line: the package's settings,
// then the test's, which win.
func (s *Server) serverArgs(data string, extra []string) []string {
	settings := []string{
		"listen_addresses=127.0.0.1",
		"password_encryption=scram-sha-256",
		"log_statement=all",
		"log_connections=on",
		"log_min_messages=info",
		"log_line_prefix=%m [%p] %q%u@%d ",
		"fsync=off",
		"shared_buffers=16MB",
		"max_connections=40",
	}
	args := []string{"-D", data, "-p", strconv.Itoa(s.Port), "-k", s.dir}
	for _, kv := range append(settings, extra...) {
		args = append(args, "-c", kv)
	}
	return args
}

func (s *Server) start(t testing.TB, postgres string, args []string, uid, gid uint32) {
	t.Helper()
	s.logStart = len(s.Logs())
	s.proc = proc.Start(t, "postgres", asPostgres(postgres, s.dir, uid, gid, args...), &s.logs)
}

// waitReady polls until the superuser logs in. It returns errPortTaken
// when the server exited because its port was in use.
func (s *Server) waitReady(t testing.TB) error {
	t.Helper()
	err := s.proc.Wait(startTimeout, func() error { return s.login(probeTimeout, SuperUser, s.SuperPassword) })
	switch {
	case errors.Is(err, proc.ErrExited) && strings.Contains(s.Logs()[s.logStart:], "Address already in use"):
		return errPortTaken
	case errors.Is(err, proc.ErrExited):
		return errors.New("postgres exited before accepting logins")
	case err != nil:
		return fmt.Errorf("no login on %s after %v: %w", s.Addr, startTimeout, err)
	}
	return nil
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("starting postgres as the postgres user needs root")
	}
}
