package postgres

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/passman-dev/passman/plugins/sdk"
)

// applicationName is how the driver's sessions show in pg_stat_activity
// and in the server's log.
const applicationName = "passman"

// closeTimeout bounds saying goodbye to the server.
const closeTimeout = 2 * time.Second

// allowedKeys are the only settings the driver puts in a connection
// string. pgx refuses any other, so that no setting that reads a local
// file or redirects the connection can slip in.
var allowedKeys = []string{"host", "port", "sslmode", "sslrootcert", "require_auth"}

// login is a role and the password it logs in with.
type login struct {
	role     string
	password sdk.Secret
}

// connect logs in to the server as l and returns the session.
// Connecting and logging in together get the target's connect timeout.
// The server must authenticate the role with SCRAM-SHA-256: a server
// that asks for the password in clear, for an md5 hash, or for nothing
// at all is refused, as no such login proves the password and the first
// two would hand it to whoever answers.
func connect(ctx context.Context, cfg *config, l login) (*pgx.Conn, error) {
	cc, err := connConfig(cfg, l)
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(dialCtx, cc)
	if err != nil {
		return nil, classify(ctx, dialCtx, err)
	}
	return conn, nil
}

// connConfig returns the pgx settings that log in as l.
func connConfig(cfg *config, l login) (*pgx.ConnConfig, error) {
	q := url.Values{}
	q.Set("sslmode", cfg.sslMode)
	q.Set("require_auth", encryptionSCRAM)
	if cfg.sslRootCert != "" {
		q.Set("sslrootcert", cfg.sslRootCert)
	}
	u := url.URL{Scheme: "postgres", Host: cfg.addr(), Path: "/", RawQuery: q.Encode()}
	opts := pgx.ParseConfigOptions{
		ParseConfigOptions: pgconn.ParseConfigOptions{ConnStringAllowedKeys: allowedKeys},
	}
	cc, err := pgx.ParseConfigWithOptions(u.String(), opts)
	if err != nil {
		// pgx quotes the whole connection string; what follows it says why.
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "`: "); ok {
			msg = after
		}
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "preparing the connection: %s", msg)
	}
	cc.User = l.role
	cc.Password = string(l.password.Reveal())
	cc.Database = cfg.database
	cc.ConnectTimeout = cfg.connectTimeout
	cc.RuntimeParams["application_name"] = applicationName
	// The simple protocol has pgx quote arguments into the statement
	// itself, which ALTER ROLE needs: it takes no bind parameters.
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return cc, nil
}

// closeConn ends a session, without waiting long for the server.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// check logs in as l and runs SELECT 1.
func check(ctx context.Context, cfg *config, l login) error {
	conn, err := connect(ctx, cfg, l)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return statementError(ctx, "running SELECT 1", err)
	}
	return nil
}

// verifierOf computes the SCRAM verifier of a new password, which is what
// the server is sent in its place.
func verifierOf(password sdk.Secret) (string, error) {
	verifier, err := scramVerifier(password.Reveal())
	if err != nil {
		return "", sdk.Errorf(sdk.ReasonFailed, "computing the new password's verifier: %v", err)
	}
	return verifier, nil
}

// alterPassword sets role's password, on conn, to the one whose SCRAM
// verifier is given. The statement carries the verifier as a literal that
// pgx quotes; the role name is quoted as an identifier.
func alterPassword(ctx context.Context, conn *pgx.Conn, role, verifier string) error {
	stmt := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " PASSWORD $1"
	if _, err := conn.Exec(ctx, stmt, verifier); err != nil {
		return statementError(ctx, "setting the password of role "+role, err)
	}
	return nil
}
