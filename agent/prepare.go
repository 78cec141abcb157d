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
		r.prep = newPreparation(ctx, r)
	}
}

// preparation is a change the driver was asked to get ready: ready is
// the change it got ready, or err why it could not; req is the change's
// request, and cancel ends the change's context.
type preparation struct {
	ready  sdk.Prepared
	err    error
	req    *sdk.ChangeRequest
	cancel context.CancelFunc
}

// newPreparation asks the driver of r to get its change ready, bounded
// by the job's deadline.
func newPreparation(ctx context.Context, r *run) *preparation {
	p := &preparation{req: changeRequest(r.p)}
	ctx, p.cancel = context.WithDeadline(ctx, r.h.Deadline)
	p.ready, p.err = sdk.Prepare(ctx, r.d, p.req)
	return p
}

// rotate makes the change of r: the prepared one, or one made now.
func (r *run) rotate(ctx context.Context) (*sdk.RotateResult, error) {
	if r.prep == nil {
		req := changeRequest(r.p)
		defer wipeChange(req)
		return sdk.Rotate(ctx, r.d, req)
	}
	if r.prep.err != nil {
		return nil, r.prep.err
	}
	ready := r.prep.ready
	r.prep.ready = nil
	return ready.Rotate(ctx)
}

// release drops a prepared change not made, ends its context and wipes
// its request's secrets.
func (p *preparation) release() {
	if p.ready != nil {
		p.ready.Close()
		p.ready = nil
	}
	p.cancel()
	wipeChange(p.req)
}

// release drops what r holds: a prepared change, its running place and
// its payload.
func (r *run) release(a *agent) {
	if r.prep != nil {
		r.prep.release()
		r.prep = nil
	}
	if r.placed {
		<-a.running
		r.placed = false
	}
	r.p.Wipe()
}
