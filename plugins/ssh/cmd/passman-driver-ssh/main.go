// Command passman-driver-ssh is the ssh driver plugin. PassMan agents
// start it; run by hand it only says that it is a plugin.
package main

import (
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/ssh"
)

func main() { sdk.Serve(ssh.New()) }
