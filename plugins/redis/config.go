package redis

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Target parameters.
const (
	paramTLS            = "tls"
	paramTLSCA          = "tls_ca"
	paramConnectTimeout = "connect_timeout"
	paramDB             = "db"
	paramPersist        = "persist"
)

// Ways of making a change survive a restart of the server, the values of
// the persist parameter.
const (
	persistNone          = "none"
	persistACLSave       = "acl_save"
	persistConfigRewrite = "config_rewrite"
)

// Defaults of the target parameters.
const (
	defaultPort           = "6379"
	defaultConnectTimeout = 5 * time.Second
)

// maxAccountLen bounds an ACL user name. Redis sets no limit of its own;
// this one keeps names to what a person would type.
const maxAccountLen = 128

// params describes the target parameters for Describe.
var params = []sdk.Param{
	{
		Name: paramTLS,
		Description: "connect with TLS, verifying the server's certificate against the " +
			"system's roots or tls_ca (default false)",
	},
	{
		Name: paramTLSCA,
		Description: "with tls, the certificates of the CAs that the server's certificate " +
			"must chain to instead of the system's roots, in PEM",
	},
	{
		Name: paramConnectTimeout,
		Description: "time allowed to connect and log in, and for each answer of the server, " +
			"as a Go duration (default 5s)",
	},
	{
		Name: paramDB,
		Description: "logical database the driver selects after logging in (default 0); " +
			"the account must be allowed SELECT when it is not 0",
	},
	{
		Name: paramPersist,
		Description: `how a change is made to survive a restart of the server: "none" ` +
			`(default) leaves it in the server's memory only, so a server that loads its ` +
			`users from a file at start gets the old password back; "acl_save" runs ACL ` +
			`SAVE, for a server whose users are in an aclfile; "config_rewrite" runs ` +
			`CONFIG REWRITE, for one whose users are in its configuration file. The ` +
			`account that makes the change must be allowed that command`,
	},
}

// config is a target's address and parameters, validated.
type config struct {
	// addr is host:port.
	addr string
	// tls is the TLS configuration, or nil for plain TCP.
	tls *tls.Config
	// useTLS and roots are what the tls and tls_ca parameters say, until
	// parseConfig turns them into tls. Nil roots are the system's.
	useTLS bool
	roots  *x509.CertPool
	// connectTimeout bounds connecting, logging in and each answer.
	connectTimeout time.Duration
	// db is the logical database to select after logging in.
	db int
	// persist is how a change is saved: persistNone, persistACLSave or
	// persistConfigRewrite.
	persist string
}

// parseConfig validates a target and fills in the defaults.
func parseConfig(t sdk.Target) (*config, error) {
	c := &config{connectTimeout: defaultConnectTimeout, persist: persistNone}
	host, addr, err := parseAddress(t.Address)
	if err != nil {
		return nil, err
	}
	c.addr = addr
	for name, value := range t.Params {
		if err := c.set(name, value); err != nil {
			return nil, err
		}
	}
	switch {
	case c.roots != nil && !c.useTLS:
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s is set, but %s is not true",
			paramTLSCA, paramTLS)
	case c.useTLS:
		// The server's certificate must name host.
		c.tls = &tls.Config{ServerName: host, RootCAs: c.roots, MinVersion: tls.VersionTLS12}
	}
	return c, nil
}

// set applies one target parameter.
func (c *config) set(name, value string) error {
	switch name {
	case paramTLS:
		on, err := strconv.ParseBool(value)
		if err != nil {
			return sdk.Errorf(sdk.ReasonInvalidParams, "%s must be true or false, not %q",
				paramTLS, value)
		}
		c.useTLS = on
	case paramTLSCA:
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM([]byte(value)) {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s holds no certificate in PEM", paramTLSCA)
		}
	case paramConnectTimeout:
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a positive duration such as 5s, not %q", paramConnectTimeout, value)
		}
		c.connectTimeout = d
	case paramDB:
		n, err := strconv.ParseUint(value, 10, 31)
		if err != nil {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a database number such as 0, not %q", paramDB, value)
		}
		c.db = int(n)
	case paramPersist:
		if value != persistNone && value != persistACLSave && value != persistConfigRewrite {
			return sdk.Errorf(sdk.ReasonInvalidParams, "%s must be %q, %q or %q, not %q",
				paramPersist, persistNone, persistACLSave, persistConfigRewrite, value)
		}
		c.persist = value
	default:
		return sdk.Errorf(sdk.ReasonInvalidParams, "unknown parameter %q", name)
	}
	return nil
}

// parseAddress returns the host of address and address as host:port,
// adding the default port.
func parseAddress(address string) (host, hostPort string, err error) {
	if address == "" {
		return "", "", sdk.Errorf(sdk.ReasonInvalidParams, "the target has no address")
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		// A bare host, or a bare IPv6 address with its colons.
		host, port = strings.Trim(address, "[]"), defaultPort
	}
	if host == "" || port == "" || strings.ContainsFunc(host, unicode.IsSpace) {
		return "", "", sdk.Errorf(sdk.ReasonInvalidParams, "invalid target address %q", address)
	}
	return host, net.JoinHostPort(host, port), nil
}

// checkAccount returns an error unless name can be an ACL user name:
// Redis refuses names with spaces, and the driver refuses other
// characters a person could not see or type.
func checkAccount(name, which string) error {
	ok := name != "" && len(name) <= maxAccountLen && utf8.ValidString(name) &&
		!strings.ContainsFunc(name, func(r rune) bool {
			return unicode.IsSpace(r) || !unicode.IsGraphic(r)
		})
	if !ok {
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s %q is not a valid ACL user name",
			which, name)
	}
	return nil
}

// checkChange validates what a change request asks for.
func checkChange(req *sdk.ChangeRequest) error {
	if req.Type != sdk.Password {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"credential type %q is not supported by the redis driver", req.Type)
	}
	if err := checkAccount(req.Account, "account"); err != nil {
		return err
	}
	if req.New.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new password is empty")
	}
	if req.New.Equal(req.Current) {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the new password is the current one")
	}
	if rec := req.Reconcile; rec != nil {
		return checkReconcile(rec)
	}
	if req.Current.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"the current password is needed to change it without a reconcile account")
	}
	return nil
}

// checkReconcile validates a reconcile account's login.
func checkReconcile(rec *sdk.Login) error {
	if err := checkAccount(rec.Account, "reconcile account"); err != nil {
		return err
	}
	if rec.Credential.Type != sdk.Password {
		return sdk.Errorf(sdk.ReasonUnsupported,
			"the reconcile account logs in with a password, not a credential of type %q",
			rec.Credential.Type)
	}
	if rec.Credential.Value.IsEmpty() {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the reconcile account's password is empty")
	}
	return nil
}
