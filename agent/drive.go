package agent

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/plugins/sdk"
)

// maxMessage bounds the length of a message in an event.
const maxMessage = 512

// runJob runs job r until its deadline and returns its result event.
func runJob(ctx context.Context, r *run) *wire.Event {
	ctx, cancel := context.WithDeadline(ctx, r.h.Deadline)
	defer cancel()
	p := r.p
	ev := &wire.Event{Kind: wire.EventResult, JobID: r.h.JobID}
	if p.Op == wire.OpChange {
		change(ctx, r, ev)
	} else {
		check(ctx, r.d, p, ev)
	}
	ev.Message = scrub(ev.Message, p)
	for i := range ev.Checks {
		ev.Checks[i].Message = scrub(ev.Checks[i].Message, p)
	}
	return ev
}

// change sets the new credential and then logs in with it: the change
// prepared while the server recorded the job's start, or one made now in
// one call to the driver's plugin. The result is OK only when both
// succeed. When the change succeeded and the login did not, ev.Checks
// holds that one login's outcome (version 0): the target may now hold the
// new value, and the server must find out which it holds.
func change(ctx context.Context, r *run, ev *wire.Event) {
	res, err := r.rotate(ctx)
	if err != nil {
		ev.Reason, ev.Message = failure(ctx, err)
		return
	}
	ev.HostKey = res.HostKey
	if res.CheckErr != nil {
		out := wire.CheckOutcome{}
		out.Reason, out.Message = failure(ctx, res.CheckErr)
		ev.Checks = []wire.CheckOutcome{out}
		ev.Reason = out.Reason
		ev.Message = "the credential was changed, but logging in with it failed: " + out.Message
		return
	}
	ev.OK = true
}

// changeRequest builds the driver's request for the change of p, with its
// own copies of the secrets, for wipeChange.
func changeRequest(p *wire.Payload) *sdk.ChangeRequest {
	return &sdk.ChangeRequest{
		JobID:     p.JobID,
		Target:    target(p.Target),
		Account:   p.Account,
		Type:      p.Type,
		Current:   sdk.NewSecret(p.Current),
		New:       sdk.NewSecret(p.New),
		Reconcile: reconcile(p.Reconcile),
	}
}

// check logs in with every candidate in turn, recording each outcome.
// The result is OK when one of them logged in; the server decides what
// the outcomes mean.
func check(ctx context.Context, d sdk.Driver, p *wire.Payload, ev *wire.Event) {
	t := target(p.Target)
	for _, c := range p.Candidates {
		out := wire.CheckOutcome{Version: c.Version}
		value := sdk.NewSecret(c.Value)
		res, err := d.Check(ctx, &sdk.CheckRequest{
			JobID:      p.JobID,
			Target:     t,
			Account:    p.Account,
			Credential: sdk.Credential{Type: p.Type, Value: value},
		})
		value.Wipe()
		if err != nil {
			out.Reason, out.Message = failure(ctx, err)
		} else {
			out.OK = true
			if res != nil && ev.HostKey == "" {
				ev.HostKey = res.HostKey
			}
		}
		ev.Checks = append(ev.Checks, out)
	}
	summarise(ev)
}

// summarise sets a check's OK from its outcomes, and its reason to the
// first failure's when none logged in.
func summarise(ev *wire.Event) {
	for _, c := range ev.Checks {
		if c.OK {
			ev.OK = true
			return
		}
	}
	if len(ev.Checks) > 0 {
		ev.Reason = ev.Checks[0].Reason
		ev.Message = "no candidate logged in"
	}
}

// failure returns the reason and message of a driver's error: the
// driver's own reason when it gave one, else timeout when the job's
// deadline came, else failed.
func failure(ctx context.Context, err error) (reason, message string) {
	var se *sdk.Error
	switch {
	case errors.As(err, &se):
		return string(se.Reason), se.Message
	case ctx.Err() != nil:
		return ReasonTimeout, "the job's deadline came before the driver answered"
	}
	return ReasonFailed, err.Error()
}

// scrub removes from msg every credential value of p, should a driver
// have put one there despite its contract, and cuts msg to maxMessage
// bytes.
func scrub(msg string, p *wire.Payload) string {
	b := []byte(msg)
	for _, v := range secretsOf(p) {
		if len(v) > 0 {
			b = bytes.ReplaceAll(b, v, []byte("[redacted]"))
		}
	}
	if len(b) > maxMessage {
		return strings.ToValidUTF8(string(b[:maxMessage-3]), "") + "..."
	}
	return string(b)
}

// secretsOf lists the credential values p holds.
func secretsOf(p *wire.Payload) [][]byte {
	out := [][]byte{p.Current, p.New}
	if p.Reconcile != nil {
		out = append(out, p.Reconcile.Value)
	}
	for _, c := range p.Candidates {
		out = append(out, c.Value)
	}
	return out
}

// target converts a payload's target for a driver.
func target(t wire.Target) sdk.Target {
	return sdk.Target{Address: t.Address, Params: t.Params, HostKey: t.HostKey}
}

// reconcile converts a payload's reconcile login for a driver.
func reconcile(l *wire.Login) *sdk.Login {
	if l == nil {
		return nil
	}
	return &sdk.Login{
		Account:    l.Account,
		Credential: sdk.Credential{Type: l.Type, Value: sdk.NewSecret(l.Value)},
	}
}

// wipeChange overwrites the copies of the secrets a change request holds.
func wipeChange(req *sdk.ChangeRequest) {
	req.Current.Wipe()
	req.New.Wipe()
	if req.Reconcile != nil {
		req.Reconcile.Credential.Value.Wipe()
	}
}
