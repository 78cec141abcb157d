package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Target parameters.
const (
	paramUserDNTemplate      = "user_dn_template"
	paramReconcileDNTemplate = "reconcile_dn_template"
	paramTLS                 = "tls"
	paramTLSCAFile           = "tls_ca_file"
	paramTLSServerName       = "tls_server_name"
	paramConnectTimeout      = "connect_timeout"
)

// TLS modes: how the connection to the directory is protected.
const (
	tlsNone     = "none"
	tlsStartTLS = "starttls"
	tlsLDAPS    = "ldaps"
)

// Defaults of the target parameters.
const (
	defaultPort           = "389"
	defaultLDAPSPort      = "636"
	defaultTLS            = tlsStartTLS
	defaultConnectTimeout = 10 * time.Second
)

// params describes the target parameters for Describe.
var params = []sdk.Param{
	{
		Name: paramUserDNTemplate,
		Description: "DN of an account, with {account} where its name goes, " +
			`e.g. "uid={account},ou=people,dc=example,dc=org"`,
		Required: true,
	},
	{
		Name: paramReconcileDNTemplate,
		Description: "DN of the reconcile account, with {account} where its name goes " +
			"(default: user_dn_template)",
	},
	{
		Name: paramTLS,
		Description: `how the connection is protected: "starttls" (default), "ldaps" ` +
			`(port 636 by default) or "none", which sends passwords in clear`,
	},
	{
		Name: paramTLSCAFile,
		Description: "PEM file, on the agent's host, of the CAs that sign the directory's " +
			"certificate (default: the system's roots)",
	},
	{
		Name:        paramTLSServerName,
		Description: "name to verify the directory's certificate against (default: its host)",
	},
	{
		Name:        paramConnectTimeout,
		Description: "time allowed to connect and bind, as a Go duration (default 10s)",
	},
}

// config is a target's address and parameters, validated.
type config struct {
	// addr is host:port.
	addr string
	// user is where accounts' entries are.
	user *dnTemplate
	// reconcile is where the reconcile account's entry is.
	reconcile *dnTemplate
	// tlsMode is tlsNone, tlsStartTLS or tlsLDAPS.
	tlsMode string
	// tls verifies the directory's certificate; nil with tlsNone.
	tls *tls.Config
	// connectTimeout bounds connecting, starting TLS and the first bind.
	connectTimeout time.Duration
}

// rawParams are the target parameters as given, before validation.
type rawParams struct {
	userTemplate, reconcileTemplate string
	tlsMode, caFile, serverName     string
	connectTimeout                  string
}

// parseConfig validates a target and fills in the defaults.
func parseConfig(t sdk.Target) (*config, error) {
	raw, err := readParams(t.Params)
	if err != nil {
		return nil, err
	}
	c := &config{tlsMode: defaultTLS, connectTimeout: defaultConnectTimeout}
	if raw.tlsMode != "" {
		c.tlsMode = raw.tlsMode
	}
	if c.tlsMode != tlsNone && c.tlsMode != tlsStartTLS && c.tlsMode != tlsLDAPS {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s must be %q, %q or %q, not %q",
			paramTLS, tlsStartTLS, tlsLDAPS, tlsNone, c.tlsMode)
	}
	if c.user, err = parseTemplate(paramUserDNTemplate, raw.userTemplate); err != nil {
		return nil, err
	}
	c.reconcile = c.user
	if raw.reconcileTemplate != "" {
		c.reconcile, err = parseTemplate(paramReconcileDNTemplate, raw.reconcileTemplate)
		if err != nil {
			return nil, err
		}
	}
	if raw.connectTimeout != "" {
		if c.connectTimeout, err = parseTimeout(raw.connectTimeout); err != nil {
			return nil, err
		}
	}
	if err := c.setAddress(t.Address); err != nil {
		return nil, err
	}
	return c, c.setTLS(raw)
}

// readParams sorts the target's parameters into rawParams, refusing
// unknown ones.
func readParams(p map[string]string) (*rawParams, error) {
	raw := &rawParams{}
	fields := map[string]*string{
		paramUserDNTemplate:      &raw.userTemplate,
		paramReconcileDNTemplate: &raw.reconcileTemplate,
		paramTLS:                 &raw.tlsMode,
		paramTLSCAFile:           &raw.caFile,
		paramTLSServerName:       &raw.serverName,
		paramConnectTimeout:      &raw.connectTimeout,
	}
	for name, value := range p {
		f, ok := fields[name]
		if !ok {
			return nil, sdk.Errorf(sdk.ReasonInvalidParams, "unknown parameter %q", name)
		}
		*f = value
	}
	return raw, nil
}

func parseTimeout(value string) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, sdk.Errorf(sdk.ReasonInvalidParams,
			"%s must be a positive duration such as 10s, not %q", paramConnectTimeout, value)
	}
	return d, nil
}

// setAddress sets addr from the target's address, adding the default
// port of the TLS mode.
func (c *config) setAddress(address string) error {
	if address == "" {
		return sdk.Errorf(sdk.ReasonInvalidParams, "the target has no address")
	}
	port := defaultPort
	if c.tlsMode == tlsLDAPS {
		port = defaultLDAPSPort
	}
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		// A bare host, or a bare IPv6 address with its colons.
		host = strings.Trim(address, "[]")
	} else {
		port = p
	}
	if host == "" || port == "" || strings.ContainsFunc(host, unicode.IsSpace) {
		return sdk.Errorf(sdk.ReasonInvalidParams, "invalid target address %q", address)
	}
	c.addr = net.JoinHostPort(host, port)
	return nil
}

// setTLS builds the TLS configuration that verifies the directory's
// certificate, for every mode but tlsNone.
func (c *config) setTLS(raw *rawParams) error {
	if c.tlsMode == tlsNone {
		if raw.caFile != "" || raw.serverName != "" {
			return sdk.Errorf(sdk.ReasonInvalidParams, "%s and %s need %s=%s or %s",
				paramTLSCAFile, paramTLSServerName, paramTLS, tlsStartTLS, tlsLDAPS)
		}
		return nil
	}
	host, _, _ := net.SplitHostPort(c.addr)
	c.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if raw.serverName != "" {
		c.tls.ServerName = raw.serverName
	}
	if raw.caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(raw.caFile)
	if err != nil {
		return sdk.Errorf(sdk.ReasonInvalidParams, "reading %s: %v", paramTLSCAFile, err)
	}
	c.tls.RootCAs = x509.NewCertPool()
	if !c.tls.RootCAs.AppendCertsFromPEM(pem) {
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s %s holds no PEM certificate",
			paramTLSCAFile, raw.caFile)
	}
	return nil
}
