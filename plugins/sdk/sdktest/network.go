package sdktest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/passman-dev/passman/internal/testtarget/netx"
	"github.com/passman-dev/passman/plugins/sdk"
)

// Network checks how a driver of a network target fails when the target
// does not answer. It needs no live target:
//
//   - Check against a port where nothing listens, or a host name that does
//     not resolve, fails with unreachable;
//   - Check and Change against a listener that accepts connections and
//     never answers fail with timeout, once at the call's deadline and once
//     at the connect_timeout parameter's, each within three seconds of it.
//
// base is a target as PassMan sends it to the driver, address aside:
// Network sets the address, and connect_timeout in a copy of the
// parameters. account is any account name the driver accepts.
func Network(t *testing.T, d sdk.Driver, base sdk.Target, account string) {
	t.Helper()
	current, next := sdk.NewSecret([]byte("Network-Current-1")), sdk.NewSecret([]byte("Network-Next-2"))
	s := &suite{d: d, used: []sdk.Secret{current, next}}
	at := func(addr string, params map[string]string) sdk.Target {
		tg := base
		tg.Address = addr
		tg.Params = maps.Clone(base.Params)
		if tg.Params == nil {
			tg.Params = map[string]string{}
		}
		maps.Copy(tg.Params, params)
		return tg
	}
	check := func(tg sdk.Target, within time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		_, err := d.Check(ctx, &sdk.CheckRequest{Target: tg, Account: account,
			Credential: sdk.Credential{Type: sdk.Password, Value: current}})
		return err
	}
	change := func(tg sdk.Target, within time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		_, err := d.Change(ctx, &sdk.ChangeRequest{JobID: "network-1", Target: tg, Account: account,
			Type: sdk.Password, Current: current, New: next})
		return err
	}

	for name, addr := range map[string]string{"nothing listens": netx.ClosedPort(t),
		"unknown host": "host.invalid:1"} {
		t.Run(name, func(t *testing.T) {
			err := check(at(addr, nil), time.Minute)
			if got := s.reason(t, "Check", err); got != sdk.ReasonUnreachable {
				t.Errorf("Check: reason %q, want unreachable", got)
			}
		})
	}

	silent := netx.Silent(t)
	const bound = 300 * time.Millisecond
	timeouts := []struct {
		name     string
		target   sdk.Target
		deadline time.Duration
	}{
		{"no answer by the deadline", at(silent, nil), bound},
		{"no answer within connect_timeout", at(silent, map[string]string{"connect_timeout": bound.String()}),
			time.Minute},
	}
	for _, tc := range timeouts {
		t.Run(tc.name, func(t *testing.T) {
			calls := map[string]func(sdk.Target, time.Duration) error{"Check": check, "Change": change}
			for what, call := range calls {
				start := time.Now()
				err := call(tc.target, tc.deadline)
				if took := time.Since(start); took > bound+grace {
					t.Errorf("%s took %v to give up, %v after the bound", what, took, took-bound)
				}
				if got := s.reason(t, what, err); got != sdk.ReasonTimeout {
					t.Errorf("%s: reason %q, want timeout", what, got)
				}
			}
		})
	}
}
