package ssh

import (
	"net"
	"regexp"
	"strings"
	"time"
	"unicode"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// Target parameters.
const (
	paramPasswdCommand   = "passwd_command"
	paramReconcileMethod = "reconcile_method"
	paramConnectTimeout  = "connect_timeout"
)

// Reconcile methods: how the reconcile account gains the right to change
// another account's credential.
const (
	methodSudo = "sudo"
	methodRoot = "root"
)

// Defaults of the target parameters.
const (
	defaultPort           = "22"
	defaultPasswdCommand  = "passwd"
	defaultConnectTimeout = 10 * time.Second
)

// params describes the target parameters for Describe.
var params = []sdk.Param{
	{
		Name:        paramPasswdCommand,
		Description: `command an account runs to change its own password (default "passwd")`,
	},
	{
		Name: paramReconcileMethod,
		Description: `how the reconcile account changes other accounts: "sudo" (default) ` +
			`runs chpasswd through sudo, "root" runs it directly`,
	},
	{
		Name:        paramConnectTimeout,
		Description: "time allowed to connect and log in, as a Go duration (default 10s)",
	},
}

// accountPattern is what an account name must look like before the driver
// puts it in a command or a file: a conservative form of POSIX user names.
var accountPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// config is a target's address and parameters, validated.
type config struct {
	// addr is host:port.
	addr string
	// hostKey is the pinned host key, or nil when none is pinned.
	hostKey xssh.PublicKey
	// passwdCommand changes the logged-in account's password.
	passwdCommand string
	// reconcileMethod is methodSudo or methodRoot.
	reconcileMethod string
	// connectTimeout bounds connecting, the handshake and logging in.
	connectTimeout time.Duration
}

// parseConfig validates a target and fills in the defaults.
func parseConfig(t sdk.Target) (*config, error) {
	c := &config{
		passwdCommand:   defaultPasswdCommand,
		reconcileMethod: methodSudo,
		connectTimeout:  defaultConnectTimeout,
	}
	addr, err := parseAddress(t.Address)
	if err != nil {
		return nil, err
	}
	c.addr = addr
	if t.HostKey != "" {
		if c.hostKey, err = parseHostKey(t.HostKey); err != nil {
			return nil, err
		}
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
	case paramPasswdCommand:
		if strings.TrimSpace(value) == "" || strings.ContainsFunc(value, unicode.IsControl) {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a non-empty command on one line", paramPasswdCommand)
		}
		c.passwdCommand = value
	case paramReconcileMethod:
		if value != methodSudo && value != methodRoot {
			return sdk.Errorf(sdk.ReasonInvalidParams, "%s must be %q or %q, not %q",
				paramReconcileMethod, methodSudo, methodRoot, value)
		}
		c.reconcileMethod = value
	case paramConnectTimeout:
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a positive duration such as 10s, not %q", paramConnectTimeout, value)
		}
		c.connectTimeout = d
	default:
		return sdk.Errorf(sdk.ReasonInvalidParams, "unknown parameter %q", name)
	}
	return nil
}

// parseAddress returns address as host:port, adding the default port.
func parseAddress(address string) (string, error) {
	if address == "" {
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "the target has no address")
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		// A bare host, or a bare IPv6 address with its colons.
		host, port = strings.Trim(address, "[]"), defaultPort
	}
	if host == "" || port == "" || strings.ContainsFunc(host, unicode.IsSpace) {
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "invalid target address %q", address)
	}
	return net.JoinHostPort(host, port), nil
}

// checkAccount returns an error unless name is safe to use as an account
// name in commands and paths.
func checkAccount(name string) error {
	if !accountPattern.MatchString(name) {
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"account name %q is not a valid user name", name)
	}
	return nil
}

// checkPassword returns an error when a password holds a control
// character. Passwords travel as lines of text to passwd, chpasswd and
// sudo, where a newline would end one early and a terminal's control
// characters would edit or interrupt the input.
func checkPassword(v sdk.Secret, which string) error {
	for _, b := range v.Reveal() {
		if b < 0x20 || b == 0x7f {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"the %s password holds a control character, which the driver cannot send",
				which)
		}
	}
	return nil
}
