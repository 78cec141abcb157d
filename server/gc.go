package server

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the garbage collector's target for a server process.
// The server's heap is small (Pebble keeps its cache outside the Go heap),
// so letting it grow four times its live size between collections costs
// little memory and buys, measured with passman-bench on two cores, about
// a fifth more checkouts per second.
const serverGCPercent = 400

// TuneGC sets the garbage collector for a long-running server process,
// unless GOGC says otherwise. Commands that run a server call it once.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}
