package agent

import (
	"context"
	"time"

	"github.com/passman-dev/passman/internal/wire"
)

// reportQueue bounds the events waiting for the reporter.
const reportQueue = 1024

// reporter delivers the agent's results and refusals. Events that become
// ready while a report is being delivered go out together in the next
// one, under one signature: one event alone when the agent is quiet, up to
// wire.MaxReport when it is busy, and never a wait for a batch to fill.
type reporter struct {
	a  *agent
	ch chan *outgoing
}

// outgoing is an event waiting for the reporter.
type outgoing struct {
	ev    *wire.Event
	until time.Time
	done  chan error
}

func newReporter(a *agent) *reporter {
	return &reporter{a: a, ch: make(chan *outgoing, reportQueue)}
}

// send queues ev, to be delivered until the given time, and returns a
// channel that receives the outcome once the server or JetStream took it,
// or the reporter gave up.
func (r *reporter) send(ev *wire.Event, until time.Time) <-chan error {
	o := &outgoing{ev: ev, until: until, done: make(chan error, 1)}
	r.ch <- o
	return o.done
}

// run delivers queued events until ctx is done and the queue is empty.
// ctx must be done only once no more events will be sent.
func (r *reporter) run(ctx context.Context) {
	for {
		var first *outgoing
		select {
		case first = <-r.ch:
		case <-ctx.Done():
			return
		}
		batch := r.gather(first)
		rep := &wire.Report{Events: make([]wire.Event, len(batch))}
		until := time.Time{}
		for i, o := range batch {
			rep.Events[i] = *o.ev
			until = later(until, o.until)
		}
		err := r.a.deliver(context.WithoutCancel(ctx), rep, until)
		for _, o := range batch {
			o.done <- err
		}
	}
}

// gather returns first and whatever else is queued, up to wire.MaxReport
// events.
func (r *reporter) gather(first *outgoing) []*outgoing {
	batch := []*outgoing{first}
	for len(batch) < wire.MaxReport {
		select {
		case o := <-r.ch:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}
