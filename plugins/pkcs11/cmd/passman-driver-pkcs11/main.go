// Command passman-driver-pkcs11 is the pkcs11 driver plugin. PassMan
// agents start it; run by hand it only says that it is a plugin.
package main

import (
	"github.com/passman-dev/passman/plugins/pkcs11"
	"github.com/passman-dev/passman/plugins/sdk"
)

func main() { sdk.Serve(pkcs11.New()) }
