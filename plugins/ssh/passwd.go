package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// ctrlC is what a terminal sends for an interrupt.
const ctrlC = "\x03"

// changePassword logs in with the current password, runs passwd on a
// terminal to set the new one and then logs in anew with it.
func changePassword(ctx context.Context, cfg *config, req *sdk.ChangeRequest) (string, error) {
	c, err := dial(ctx, cfg, login{
		account: req.Account,
		cred:    sdk.Credential{Type: sdk.Password, Value: req.Current},
	})
	if err != nil {
		return "", err
	}
	// The prompts are read in English, whatever the target's language.
	err = c.passwd(ctx, "env LC_ALL=C "+cfg.passwdCommand, req.Current, req.New)
	_ = c.Close()
	if err != nil {
		return "", err
	}
	return verifyNew(ctx, cfg, req.Account, sdk.Credential{Type: sdk.Password, Value: req.New})
}

// verifyNew logs in with a credential just set, so that a change only
// succeeds when the new credential works.
func verifyNew(
	ctx context.Context, cfg *config, account string, cred sdk.Credential,
) (string, error) {
	hostKey, err := check(ctx, cfg, login{account: account, cred: cred})
	if err != nil {
		return "", sdk.Annotate(err,
			"the target took the new credential, but logging in with it failed")
	}
	return hostKey, nil
}

// passwd runs command on a terminal and answers its prompts with current
// and next.
func (c *conn) passwd(ctx context.Context, command string, current, next sdk.Secret) error {
	s, stdin, stdout, err := c.startOnTerminal(ctx, command)
	if err != nil {
		return err
	}
	defer s.Close()

	d := &dialog{current: current, next: next}
	dialogErr := d.run(stdout, stdin)
	if dialogErr != nil {
		_, _ = io.WriteString(stdin, ctrlC)
		_ = s.Close()
	}
	return d.result(ctx, dialogErr, s.Wait())
}

// startOnTerminal starts command in a new session with a terminal and
// returns the session with the terminal's input and output.
func (c *conn) startOnTerminal(
	ctx context.Context, command string,
) (*xssh.Session, io.Writer, io.Reader, error) {
	s, err := c.client.NewSession()
	if err != nil {
		return nil, nil, nil, runError(ctx, fmt.Errorf("opening a session: %w", err))
	}
	fail := func(doing string, err error) (*xssh.Session, io.Writer, io.Reader, error) {
		_ = s.Close()
		return nil, nil, nil, runError(ctx, fmt.Errorf("%s: %w", doing, err))
	}

	// Echo is off from the start, so that no answer can come back in the
	// output even before the command turns it off itself.
	if err := s.RequestPty("dumb", 24, 200, xssh.TerminalModes{xssh.ECHO: 0}); err != nil {
		return fail("requesting a terminal", err)
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		return fail("opening the terminal input", err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return fail("opening the terminal output", err)
	}
	if err := s.Start(command); err != nil {
		return fail("starting "+command, err)
	}
	return s, stdin, stdout, nil
}

// dialog answers passwd's prompts, read from its terminal output.
type dialog struct {
	current, next sdk.Secret

	// transcript is everything passwd printed, for error messages.
	transcript strings.Builder
	// pending is what passwd printed since the last answer.
	pending     string
	currentSent int
	nextSent    int
}

// run reads the terminal until passwd closes it, answering each prompt.
func (d *dialog) run(out io.Reader, in io.Writer) error {
	buf := make([]byte, 4096)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			d.transcript.Write(buf[:n])
			d.pending += string(buf[:n])
			if aerr := d.answer(in); aerr != nil {
				return aerr
			}
		}
		if err != nil {
			return nil
		}
		if d.transcript.Len() > maxOutput {
			return errors.New("passwd printed too much")
		}
	}
}

// answer answers the prompt that ends the pending output, if there is
// one.
func (d *dialog) answer(in io.Writer) error {
	var value sdk.Secret
	switch promptKind(d.pending, d.currentSent+d.nextSent == 0) {
	case promptNone:
		return nil
	case promptCurrent:
		if d.currentSent > 0 || d.nextSent > 0 {
			return errAskedCurrentAgain
		}
		d.currentSent++
		value = d.current
	case promptNew:
		if d.nextSent >= 2 {
			return errAskedNewAgain
		}
		d.nextSent++
		value = d.next
	}
	d.pending = ""
	line := append(append([]byte(nil), value.Reveal()...), '\n')
	defer clear(line)
	if _, err := in.Write(line); err != nil {
		return fmt.Errorf("answering passwd: %w", err)
	}
	return nil
}

// result decides how the passwd run went from how the dialog ended and
// how the command exited.
func (d *dialog) result(ctx context.Context, dialogErr, waitErr error) error {
	if err := contextError(ctx); err != nil {
		return err
	}
	said := sdk.Redact(d.said(), d.current, d.next)
	switch {
	case errors.Is(dialogErr, errAskedCurrentAgain):
		return sdk.Errorf(sdk.ReasonAuthFailed, "%v: %s", dialogErr, said)
	case errors.Is(dialogErr, errAskedNewAgain):
		return sdk.Errorf(sdk.ReasonRejected, "%v: %s", dialogErr, said)
	case dialogErr != nil:
		return sdk.Errorf(sdk.ReasonFailed, "%v: %s", dialogErr, said)
	case waitErr == nil && d.nextSent > 0:
		return nil
	case waitErr == nil:
		return sdk.Errorf(sdk.ReasonFailed,
			"passwd exited without asking for the new password: %s", said)
	case refusal(d.transcript.String()):
		return sdk.Errorf(sdk.ReasonRejected, "passwd refused the change: %s", said)
	}
	return sdk.Errorf(sdk.ReasonFailed, "passwd failed (%v): %s", waitErr, said)
}

// said returns the last lines passwd printed that were not prompts.
func (d *dialog) said() string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(d.transcript.String(), "\r", ""), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasSuffix(l, ":") {
			lines = append(lines, l)
		}
	}
	return lastLines(strings.Join(lines, "\n"), 3)
}

// refusal reports whether passwd's output says the target refused the
// change, as PAM modules say it.
func refusal(out string) bool {
	out = strings.ToLower(out)
	for _, s := range []string{
		"authentication token manipulation error",
		"bad password",
		"password unchanged",
		"you must choose",
		"too similar",
		"too simple",
	} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// The kinds of prompt passwd shows.
const (
	promptNone = iota
	promptCurrent
	promptNew
)

// promptKind tells which password, if any, the last line of out asks for.
// A prompt ends in a colon. A prompt that names neither the current nor
// a new password counts as asking for the current one only when it comes
// first.
func promptKind(out string, first bool) int {
	out = strings.TrimRight(out, " \t")
	if !strings.HasSuffix(out, ":") {
		return promptNone
	}
	if i := strings.LastIndexAny(out, "\r\n"); i >= 0 {
		out = out[i+1:]
	}
	line := strings.ToLower(strings.TrimSpace(out))
	switch {
	case !strings.Contains(line, "password") || strings.Contains(line, "bad password"):
		return promptNone
	case containsAny(line, "new", "retype", "re-enter", "again", "repeat", "confirm"):
		return promptNew
	case containsAny(line, "current", "old"), first:
		return promptCurrent
	}
	return promptNone
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
