// Command passman-driver-ldap is the ldap driver plugin. PassMan agents
// start it; run by hand it only says that it is a plugin.
package main

import (
	"github.com/passman-dev/passman/plugins/ldap"
	"github.com/passman-dev/passman/plugins/sdk"
)

func main() { sdk.Serve(ldap.New()) }
