package agent

import (
	"context"
	"runtime"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/plugins/sdk"
)

// prepare has the driver get ready, while the server records that the
// jobs start, each change of runs that may run at once: one that finds a
// free running place, which it keeps until it ends. The driver changes
// nothing before the change may proceed; a change not prepared is made
// whole once it starts. Getting a change ready early shortens it only
// while the machine has cores to spare, and costs the plugin's connection
// a stream of its own: a busy agent, with as many jobs running as it has
// cores, makes its changes whole.
func (a *agent) prepare(ctx context.Context, runs []*run) {
	for _, r := range runs {
		if r.p.Op != wire.OpChange {
			continue
		}
		if len(a.running) >= runtime.GOMAXPROCS(0) {
			return
		}
		select {
		case a.running <- struct{}{}:
		default:
			return
		}
		r.placed = true
		var jctx context.Context
		jctx, r.cancel = context.WithDeadline(ctx, r.h.Deadline)
		r.req = changeRequest(r.p)
		r.ready, r.readyErr = sdk.Prepare(jctx, r.d, r.req)
		r.prepared = true
	}
}

// rotate makes the change of r: the prepared one, or one made now.
func (r *run) rotate(ctx context.Context) (*sdk.RotateResult, error) {
	if !r.prepared {
		req := changeRequest(r.p)
		defer wipeChange(req)
		return sdk.Rotate(ctx, r.d, req)
	}
	if r.readyErr != nil {
		return nil, r.readyErr
	}
	p := r.ready
	r.ready = nil
	return p.Rotate(ctx)
}

// release drops what r holds: a prepared change not made, its request's
// secrets, its running place and its payload.
func (r *run) release(a *agent) {
	if r.ready != nil {
		r.ready.Close()
		r.ready = nil
	}
	if r.cancel != nil {
		r.cancel()
	}
	if r.req != nil {
		wipeChange(r.req)
		r.req = nil
	}
	if r.placed {
		<-a.running
		r.placed = false
	}
	r.p.Wipe()
}
