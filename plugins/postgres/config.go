package postgres

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Target parameters.
const (
	paramDatabase           = "database"
	paramSSLMode            = "sslmode"
	paramSSLRootCert        = "sslrootcert"
	paramConnectTimeout     = "connect_timeout"
	paramPasswordEncryption = "password_encryption"
)

// TLS modes, as libpq names them.
const (
	sslDisable    = "disable"
	sslPrefer     = "prefer"
	sslRequire    = "require"
	sslVerifyCA   = "verify-ca"
	sslVerifyFull = "verify-full"
)

// encryptionSCRAM is the only password encryption the driver writes.
const encryptionSCRAM = "scram-sha-256"

// Defaults of the target parameters.
const (
	defaultPort           = "5432"
	defaultDatabase       = "postgres"
	defaultSSLMode        = sslPrefer
	defaultConnectTimeout = 10 * time.Second
)

// maxName is the longest identifier PostgreSQL keeps, in bytes: the
// server cuts longer role and database names short, so that a longer
// name would silently mean another role.
const maxName = 63

// params describes the target parameters for Describe.
var params = []sdk.Param{
	{
		Name:        paramDatabase,
		Description: `database to connect to (default "postgres")`,
	},
	{
		Name: paramSSLMode,
		Description: `TLS to the server, as libpq's sslmode: "disable", "prefer" (default: ` +
			`TLS when the server offers it, unverified), "require" (TLS, unverified), ` +
			`"verify-ca" or "verify-full" (TLS with the server's certificate verified)`,
	},
	{
		Name: paramSSLRootCert,
		Description: `PEM file on the agent's host of the CAs that verify the server's ` +
			`certificate, or "system" for the host's own CAs`,
	},
	{
		Name:        paramConnectTimeout,
		Description: "time allowed to connect and log in, as a Go duration (default 10s)",
	},
	{
		Name: paramPasswordEncryption,
		Description: `how a new password is stored: "scram-sha-256" (default and only ` +
			`choice; the driver never sends a password in clear)`,
	},
}

// hostPattern is what the host part of an address may hold: a DNS name
// or an IPv4 or IPv6 address. Anything else, such as a socket path or a
// comma-separated list of hosts, means something else to pgx.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9._:%-]+$`)

// config is a target's address and parameters, validated.
type config struct {
	// host and port are where the server listens.
	host string
	port string
	// database is the database logins connect to.
	database string
	// sslMode is one of the ssl constants.
	sslMode string
	// sslRootCert is the sslrootcert setting, or empty.
	sslRootCert string
	// connectTimeout bounds connecting and logging in.
	connectTimeout time.Duration
}

// addr returns host:port, for logs and messages.
func (c *config) addr() string { return net.JoinHostPort(c.host, c.port) }

// parseConfig validates a target and fills in the defaults.
func parseConfig(t sdk.Target) (*config, error) {
	c := &config{
		database:       defaultDatabase,
		sslMode:        defaultSSLMode,
		connectTimeout: defaultConnectTimeout,
	}
	var err error
	if c.host, c.port, err = parseAddress(t.Address); err != nil {
		return nil, err
	}
	for name, value := range t.Params {
		if err := c.set(name, value); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// set applies one target parameter.
func (c *config) set(name, value string) error {
	switch name {
	case paramDatabase:
		if err := checkName("database", value); err != nil {
			return err
		}
		c.database = value
	case paramSSLMode:
		return c.setSSLMode(value)
	case paramSSLRootCert:
		if value == "" || strings.ContainsFunc(value, unicode.IsControl) {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a file path or \"system\"", paramSSLRootCert)
		}
		c.sslRootCert = value
	case paramConnectTimeout:
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a positive duration such as 10s, not %q", paramConnectTimeout, value)
		}
		c.connectTimeout = d
	case paramPasswordEncryption:
		return checkEncryption(value)
	default:
		return sdk.Errorf(sdk.ReasonInvalidParams, "unknown parameter %q", name)
	}
	return nil
}

func (c *config) setSSLMode(value string) error {
	switch value {
	case sslDisable, sslPrefer, sslRequire, sslVerifyCA, sslVerifyFull:
		c.sslMode = value
		return nil
	}
	return sdk.Errorf(sdk.ReasonInvalidParams,
		"%s must be one of disable, prefer, require, verify-ca or verify-full, not %q",
		paramSSLMode, value)
}

// checkEncryption accepts scram-sha-256 only. An md5 verifier is as good
// as the password to whoever reads it, and the statement that sets one
// may be logged by the server, so the driver refuses to write one.
func checkEncryption(value string) error {
	if value == encryptionSCRAM {
		return nil
	}
	return sdk.Errorf(sdk.ReasonInvalidParams,
		"%s must be %q, not %q: an md5 password is as good as the password itself "+
			"to anyone who reads the server's statement log", paramPasswordEncryption,
		encryptionSCRAM, value)
}

// parseAddress splits address into host and port, adding the default
// port.
func parseAddress(address string) (host, port string, err error) {
	if address == "" {
		return "", "", sdk.Errorf(sdk.ReasonInvalidParams, "the target has no address")
	}
	host, port, err = net.SplitHostPort(address)
	if err != nil {
		// A bare host, or a bare IPv6 address with its colons.
		host, port = strings.Trim(address, "[]"), defaultPort
	}
	n, perr := strconv.ParseUint(port, 10, 16)
	if !hostPattern.MatchString(host) || perr != nil || n == 0 {
		return "", "", sdk.Errorf(sdk.ReasonInvalidParams, "invalid target address %q", address)
	}
	return host, port, nil
}

// checkName returns an error unless name can be a role or database name
// as it is: not empty, not longer than PostgreSQL keeps, and free of
// control characters.
func checkName(what, name string) error {
	if name == "" || len(name) > maxName || strings.ContainsFunc(name, unicode.IsControl) {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"%s name %q must be 1 to %d bytes without control characters", what, name, maxName)
	}
	return nil
}
