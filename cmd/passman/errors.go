package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/api"
)

// Exit codes, as documented in CLI.md.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitRefused = 3
)

// The codes printed for errors that do not come from the server.
const (
	statusUsage  = "usage"
	statusFailed = "failed"
)

// usageError is a command line the user has to correct: an unknown
// command or flag, a missing argument, a bad flag value or flags that
// conflict.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failure marks an error returned by a command's own work, as opposed to
// one urfave/cli found while parsing the command line.
type failure struct{ err error }

func (e *failure) Error() string { return e.err.Error() }
func (e *failure) Unwrap() error { return e.err }

// act wraps a command's action so that its errors are told apart from
// urfave/cli's own, which are all usage errors.
func act(fn cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := checkOutputFlag(c); err != nil {
			return err
		}
		err := fn(c)
		var ue *usageError
		if err == nil || errors.As(err, &ue) {
			return err
		}
		return &failure{err: err}
	}
}

// classify returns the exit code, the status code to print and the message
// for err.
func classify(err error) (exit int, status, msg string) {
	var ue *usageError
	var ae *api.Error
	var f *failure
	switch {
	case errors.As(err, &ue):
		return exitUsage, statusUsage, ue.msg
	case errors.As(err, &ae):
		return ae.Code.ExitCode(), string(ae.Code), ae.Message
	case errors.As(err, &f):
		return exitFailed, statusFailed, err.Error()
	}
	// Anything else comes from urfave/cli before an action ran: a missing
	// required flag, an unknown help topic.
	return exitUsage, statusUsage, err.Error()
}

// printError writes an error on stderr, as a JSON object when asJSON.
func (m *cmdline) printError(asJSON bool, status, msg string) {
	if asJSON {
		b, _ := json.Marshal(api.Error{Code: api.Code(status), Message: msg})
		fmt.Fprintln(m.stderr, string(b))
		return
	}
	fmt.Fprintf(m.stderr, "passman: %s (%s)\n", msg, status)
}

// wantsJSON reports whether the command line asks for JSON output. It
// looks at the raw arguments so that errors found while parsing them are
// printed in the format asked for too.
func wantsJSON(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "output" && name != "o") {
			continue
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		if val == "json" {
			return true
		}
	}
	return false
}
