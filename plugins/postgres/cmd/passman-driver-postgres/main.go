// Command passman-driver-postgres is the postgres driver plugin. PassMan
// agents start it; run by hand it only says that it is a plugin.
package main

import (
	"github.com/passman-dev/passman/plugins/postgres"
	"github.com/passman-dev/passman/plugins/sdk"
)

func main() { sdk.Serve(postgres.New()) }
