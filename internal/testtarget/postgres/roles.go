package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// helperTimeout bounds each helper's work on the server.
const helperTimeout = 10 * time.Second

// attrPattern is what a role attribute given to CreateRole looks like,
// such as CREATEROLE, NOLOGIN or CONNECTION LIMIT 1.
var attrPattern = regexp.MustCompile(`^[A-Z][A-Z0-9 ]*$`)

// RoleName returns a fresh role name for one test: "pmt" and 12 hex
// digits.
func RoleName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return "pmt" + hex.EncodeToString(b)
}

// Password returns a random password of 29 characters.
func Password(t testing.TB) string {
	t.Helper()
	return "Pg-" + rand.Text()
}

// CreateRole creates a role that logs in with password, with extra
// attributes such as CREATEROLE, SUPERUSER or NOLOGIN. The password goes
// to the server in a session that logs no statement, so that it never
// appears in the server's log.
func (s *Server) CreateRole(t testing.TB, name, password string, attrs ...string) {
	t.Helper()
	for _, a := range attrs {
		if !attrPattern.MatchString(a) {
			t.Fatalf("role attribute %q is not an attribute", a)
		}
	}
	if !slices.Contains(attrs, "NOLOGIN") {
		attrs = append([]string{"LOGIN"}, attrs...)
	}
	stmt := fmt.Sprintf("CREATE ROLE %s %s PASSWORD $1",
		pgx.Identifier{name}.Sanitize(), strings.Join(attrs, " "))
	s.superExec(t, stmt, password)
}

// SetPassword sets a role's password as the superuser, the way an
// administrator would outside PassMan, in a session that logs no
// statement.
func (s *Server) SetPassword(t testing.TB, name, password string) {
	t.Helper()
	s.superExec(t, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" PASSWORD $1", password)
}

// superExec runs a statement with arguments as the superuser in a
// session that logs neither it nor, should it fail, its text.
func (s *Server) superExec(t testing.TB, stmt string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	conn, err := s.connect(ctx, SuperUser, s.SuperPassword)
	if err != nil {
		t.Fatalf("logging in as %s: %v", SuperUser, err)
	}
	defer conn.Close(ctx)
	quiet := "SET log_statement = 'none'; SET log_min_error_statement = 'panic'"
	if _, err := conn.Exec(ctx, quiet); err != nil {
		t.Fatalf("turning statement logging off: %v", err)
	}
	if _, err := conn.Exec(ctx, stmt, args...); err != nil {
		t.Fatalf("running %q: %v", stmt, err)
	}
}

// CanLogin logs in as role with password, accepting scram-sha-256
// authentication only, and runs SELECT 1. It returns why that failed,
// or nil.
func (s *Server) CanLogin(t testing.TB, role, password string) error {
	t.Helper()
	return s.login(helperTimeout, role, password)
}

// login is CanLogin with a timeout.
func (s *Server) login(timeout time.Duration, role, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := s.connect(ctx, role, password)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// CanLoginPsql logs in as role with password through psql, and thus
// libpq, the client most others build on, and runs SELECT 1. It returns
// why that failed, or nil. The password reaches psql in its environment.
func (s *Server) CanLoginPsql(t testing.TB, role, password string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=prefer", s.Port)
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), "-X", "-w", "-At",
		"-d", conninfo, "-U", role, "-c", "SELECT 1")
	cmd.Env = []string{"PGPASSWORD=" + password, "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if got := strings.TrimSpace(string(out)); got != "1" {
		return fmt.Errorf("psql printed %q, want 1", got)
	}
	return nil
}

// connect logs in to the server's postgres database over TCP.
func (s *Server) connect(ctx context.Context, role, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf(
		"host=127.0.0.1 port=%d dbname=postgres sslmode=prefer require_auth=scram-sha-256",
		s.Port))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = role, password
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}
