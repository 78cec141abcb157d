package main

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves the flags of the command args name in front of its
// positional arguments, so that "passman target create PATH --type ssh"
// parses: urfave/cli, like the flag package, stops at the first
// positional argument. Flags before the command name stay where they are.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	rest := args[1:]
	for {
		name, before, after, ok := nextCommand(rest, flags)
		out = append(out, before...)
		if !ok {
			return append(out, after...)
		}
		cmd := findCommand(cmds, name)
		out = append(out, name)
		if cmd == nil {
			return append(out, after...)
		}
		if len(cmd.Subcommands) == 0 {
			return append(out, flagsFirst(after, cmd.Flags)...)
		}
		flags, cmds, rest = cmd.Flags, cmd.Subcommands, after
	}
}

// nextCommand skips the flags at the start of args and returns the first
// positional argument, the flags before it and the arguments after it.
func nextCommand(args []string, flags []cli.Flag) (name string, before, after []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return "", args[:i], args[i:], false
		}
		if !isFlag(a) {
			return a, args[:i], args[i+1:], true
		}
		if flagTakesValue(a, flags) && i+1 < len(args) {
			i++
		}
	}
	return "", args, nil, false
}

// flagsFirst returns args with its flags, and their values, before its
// positional arguments. A "--" keeps everything after it positional.
func flagsFirst(args []string, flags []cli.Flag) []string {
	var fl, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case !isFlag(a):
			pos = append(pos, a)
		case flagTakesValue(a, flags) && i+1 < len(args):
			fl = append(fl, a, args[i+1])
			i++
		default:
			fl = append(fl, a)
		}
	}
	if slices.ContainsFunc(fl, isHelpFlag) {
		// Help takes positional arguments as a help topic.
		return fl
	}
	for _, p := range pos {
		if strings.HasPrefix(p, "-") {
			return append(append(fl, "--"), pos...)
		}
	}
	return append(fl, pos...)
}

// isHelpFlag reports whether a asks for help.
func isHelpFlag(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// isFlag reports whether a looks like a flag rather than a value.
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagTakesValue reports whether a is a flag, written without "=", that
// takes its value from the next argument.
func flagTakesValue(a string, flags []cli.Flag) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			tv, ok := f.(interface{ TakesValue() bool })
			return ok && tv.TakesValue()
		}
	}
	return false
}

// findCommand returns the command called name, or nil.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// needArgs returns the command's positional arguments, which must be
// exactly as many as names.
func needArgs(c *cli.Context, names ...string) ([]string, error) {
	args := c.Args().Slice()
	switch {
	case len(args) < len(names):
		return nil, usagef("missing %s; usage: %s %s", names[len(args)], commandName(c),
			strings.Join(names, " "))
	case len(args) > len(names):
		return nil, usagef("unexpected argument %q", args[len(names)])
	}
	return args, nil
}

// needArg returns the command's one positional argument.
func needArg(c *cli.Context, name string) (string, error) {
	args, err := needArgs(c, name)
	if err != nil {
		return "", err
	}
	return args[0], nil
}

// optArg returns the command's optional positional argument, or "".
func optArg(c *cli.Context) (string, error) {
	switch args := c.Args().Slice(); len(args) {
	case 0:
		return "", nil
	case 1:
		return args[0], nil
	default:
		return "", usagef("unexpected argument %q", args[1])
	}
}

// treePath turns a path typed by a user into the API's form: "/" and ""
// stand for the root, and surrounding slashes are dropped.
func treePath(p string) string { return strings.Trim(p, "/") }

// parseDuration parses a Go duration, or a whole number of days written
// with a "d" suffix, such as "2h", "90m" or "1d". It must be positive.
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 10000 {
			return 0, usagef("duration %q is not a number of days such as 1d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, usagef("duration %q is not like 30m, 2h or 1d", s)
		}
	}
	if d <= 0 {
		return 0, usagef("duration %q is not positive", s)
	}
	return d, nil
}

// parseSince parses an RFC 3339 time, or a duration meaning that long
// before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, usagef(
			"--since %q is neither an RFC 3339 time nor a duration such as 1h", s)
	}
	return now.Add(-d), nil
}
