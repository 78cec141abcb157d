package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/client"
)

// errNoAddr is returned by commands that talk to a server when
// PASSMAN_ADDR is not set.
var errNoAddr = &usageError{msg: client.EnvAddr + " is not set; export the server's " +
	"address, for example " + client.EnvAddr + "=https://127.0.0.1:8443 (passman dev prints it)"}

// client returns an API client configured from PASSMAN_ADDR, PASSMAN_TOKEN
// and PASSMAN_CACERT.
func (m *cmdline) client() (*client.Client, error) {
	if m.getenv(client.EnvAddr) == "" {
		return nil, errNoAddr
	}
	c, err := client.FromGetenv(m.getenv)
	if err != nil {
		return nil, fmt.Errorf("configuring client: %w", err)
	}
	return c, nil
}

// clientNoArgs checks that the command got no positional argument and
// returns a client.
func (m *cmdline) clientNoArgs(c *cli.Context) (*client.Client, error) {
	if _, err := needArgs(c); err != nil {
		return nil, err
	}
	return m.client()
}
