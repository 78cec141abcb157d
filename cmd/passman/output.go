package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

// The output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// outputFlag returns the --output flag. Every leaf command has one, and
// so has the app, so that it may stand before or after the command.
func outputFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "output",
		Aliases: []string{"o"},
		Usage:   "output format: table or json",
		Value:   formatTable,
	}
}

// outputFormat returns the --output given closest to the command, or
// table.
func outputFormat(c *cli.Context) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("output") {
			return ctx.String("output")
		}
	}
	return formatTable
}

// checkOutputFlag refuses an --output other than table or json.
func checkOutputFlag(c *cli.Context) error {
	switch f := outputFormat(c); f {
	case formatTable, formatJSON:
		return nil
	default:
		return usagef("--output %q is not table or json", f)
	}
}

// isJSON reports whether the command prints JSON.
func isJSON(c *cli.Context) bool { return outputFormat(c) == formatJSON }

// emit prints v as one JSON document, or calls table with a tabwriter on
// stdout and flushes it.
func (m *cmdline) emit(c *cli.Context, v any, table func(w io.Writer)) error {
	if isJSON(c) {
		return writeJSON(m.stdout, v)
	}
	tw := tabwriter.NewWriter(m.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// row writes one tab-separated row.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// field writes a "name:\tvalue" line of a detail view.
func field(w io.Writer, name string, value any) {
	fmt.Fprintf(w, "%s:\t%v\n", name, value)
}

// when formats a time for a table, "-" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
