package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
)

// secretPrompt says how to read one secret from the user.
type secretPrompt struct {
	// what names the secret in prompts and messages, such as "password".
	what string
	// fromStdin reads the secret from stdin (--value-stdin) instead of
	// prompting.
	fromStdin bool
	// wholeStdin reads all of stdin rather than one line, for values that
	// span lines such as SSH private keys.
	wholeStdin bool
	// show echoes what is typed, and asks once (--show).
	show bool
	// confirm asks twice without echo, and the two must match.
	confirm bool
}

var (
	// errNoTerminal is returned when a secret is to be prompted for but
	// stdin is not a terminal.
	errNoTerminal = &usageError{
		msg: "stdin is not a terminal; give the value on stdin with --value-stdin"}
	// errMismatch is returned when the two typed values differ.
	errMismatch = errors.New("the two values typed do not match")
)

// readSecret reads a secret from stdin or from a prompt on the terminal.
func (m *cmdline) readSecret(p secretPrompt) (secret.Value, error) {
	var b []byte
	var err error
	switch {
	case p.fromStdin && p.wholeStdin:
		b, err = io.ReadAll(io.LimitReader(m.stdin, api.MaxBodyBytes))
	case p.fromStdin:
		b, err = readLine(m.stdin)
	default:
		b, err = m.promptSecret(p)
	}
	defer clear(b)
	if err != nil {
		return secret.Value{}, fmt.Errorf("reading %s: %w", p.what, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return secret.Value{}, fmt.Errorf("reading %s: no value given", p.what)
	}
	return secret.New(b), nil
}

// promptSecret asks for a secret on the terminal that stdin is.
func (m *cmdline) promptSecret(p secretPrompt) ([]byte, error) {
	fd, ok := m.terminal()
	if !ok {
		return nil, errNoTerminal
	}
	if p.show {
		fmt.Fprintf(m.stderr, "%s (shown): ", p.what)
		return readLine(m.stdin)
	}
	first, err := m.readNoEcho(fd, p.what)
	if err != nil || !p.confirm {
		return first, err
	}
	second, err := m.readNoEcho(fd, p.what+" again")
	defer clear(second)
	if err != nil {
		clear(first)
		return nil, err
	}
	if !bytes.Equal(first, second) {
		clear(first)
		return nil, errMismatch
	}
	return first, nil
}

// readNoEcho prompts on stderr and reads a line from fd without echo.
func (m *cmdline) readNoEcho(fd int, prompt string) ([]byte, error) {
	fmt.Fprintf(m.stderr, "%s: ", prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(m.stderr)
	return b, err
}

// terminal returns stdin's file descriptor if stdin is a terminal.
func (m *cmdline) terminal() (int, bool) {
	f, ok := m.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// readLine reads one line from r, a byte at a time so that nothing after
// it is consumed, and returns it without its "\n" or "\r\n".
func readLine(r io.Reader) ([]byte, error) {
	line := make([]byte, 0, 1024)
	var c [1]byte
	for len(line) <= api.MaxBodyBytes {
		n, err := r.Read(c[:])
		if n == 1 && c[0] == '\n' {
			break
		}
		if n == 1 {
			line = append(line, c[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			clear(line)
			return nil, err
		}
	}
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
