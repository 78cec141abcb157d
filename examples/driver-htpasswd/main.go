// Command passman-driver-htpasswd is an example PassMan driver: it manages
// the bcrypt password of one user in an Apache htpasswd file on the
// agent's host.
//
// A PassMan agent starts this program as a plugin and keeps it running;
// it is not meant to be run by hand. driver.go holds the driver,
// htpasswd.go reads and writes the file, and driver_test.go runs the
// SDK's conformance suite against both the driver and the built program.
package main

import "github.com/passman-dev/passman/plugins/sdk"

func main() {
	sdk.Serve(New())
}
