// Command passman-driver-file is the file driver as a plugin process, for a
// PassMan agent to start. It is not meant to be run by hand.
package main

import (
	"github.com/passman-dev/passman/plugins/file"
	"github.com/passman-dev/passman/plugins/sdk"
)

func main() {
	sdk.Serve(file.New())
}
