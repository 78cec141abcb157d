package agent

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/plugins/sdk"
)

// Timing of the job loop.
const (
	// fetchWait is how long one pull request stands on the server before
	// the agent renews it.
	fetchWait = 30 * time.Second
	// attemptTimeout bounds one publication of an event.
	attemptTimeout = 5 * time.Second
	// acceptWait bounds the attempts to publish an accepted event. A job
	// whose accepted event is not stored by then does not run.
	acceptWait = 5 * time.Second
	// refuseWait bounds the attempts to publish a refused event.
	refuseWait = 30 * time.Second
	// resultGrace is how long past a job's deadline the agent keeps
	// trying to publish its result.
	resultGrace = time.Minute
	// retryNak is how long JetStream waits before delivering again a job
	// the agent could not take.
	retryNak = 5 * time.Second
)

// agent is one running agent: its connection, its journal and its jobs.
type agent struct {
	cfg      Config
	log      hclog.Logger
	id       *identity
	journal  *journal
	nc       *nats.Conn
	js       jetstream.JetStream
	inFlight atomic.Int64
	jobs     sync.WaitGroup
	// described caches each driver's description for the heartbeats.
	described sync.Map
}

// newAgent connects to NATS as the agent of id.
func newAgent(cfg Config, log hclog.Logger, id *identity, j *journal) (*agent, error) {
	nc, err := connect(id, log.Named("nats"))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, wrapf(err, "starting JetStream")
	}
	return &agent{cfg: cfg, log: log, id: id, journal: j, nc: nc, js: js}, nil
}

// serve sends heartbeats and takes jobs until ctx is done, then waits for
// the jobs in flight. Heartbeats go on until the last job ends.
func (a *agent) serve(ctx context.Context) {
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	var beats sync.WaitGroup
	beats.Go(func() { a.heartbeats(beatCtx) })
	a.takeJobs(ctx)
	a.jobs.Wait()
	stopBeats()
	beats.Wait()
}

// close flushes what is buffered, acknowledgements above all, and
// disconnects.
func (a *agent) close() {
	if err := a.nc.FlushTimeout(flushTimeout); err != nil {
		a.log.Debug("nats flush at shutdown", "error", err)
	}
	a.nc.Close()
}

// takeJobs pulls jobs through one standing pull request of up to
// MaxInFlight messages, and hands each to its own goroutine once fewer
// than MaxInFlight run. A standing pull keeps one subscription for every
// job, where a pull per job would subscribe and unsubscribe for each. At
// most MaxInFlight jobs wait in its buffer; when the agent stops, those
// are handed back to JetStream at once for the next run.
func (a *agent) takeJobs(ctx context.Context) {
	cons := a.consumer(ctx)
	if cons == nil {
		return
	}
	slots := make(chan struct{}, a.cfg.MaxInFlight)
	for attempt := 0; ctx.Err() == nil; {
		it, err := cons.Messages(jetstream.PullMaxMessages(a.cfg.MaxInFlight),
			jetstream.PullExpiry(fetchWait))
		if err != nil {
			if !a.pause(ctx, &attempt, err) {
				return
			}
			continue
		}
		stop := context.AfterFunc(ctx, it.Drain)
		a.pull(ctx, it, slots, cons, &attempt)
		stop()
		it.Stop()
	}
}

// pull hands the jobs of it to their goroutines, one per free slot, until
// it fails or closes. Once ctx is done, the jobs left in its buffer are
// handed back.
func (a *agent) pull(ctx context.Context, it jetstream.MessagesContext, slots chan struct{},
	cons jetstream.Consumer, attempt *int) {
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			a.handBack(it)
			return
		}
		msg, err := it.Next()
		if err != nil {
			// Whatever broke the pull, a new one starts after a pause,
			// unless the agent is stopping.
			<-slots
			if ctx.Err() == nil {
				a.pause(ctx, attempt, err)
			}
			return
		}
		*attempt = 0
		if ctx.Err() != nil {
			<-slots
			a.settle(func() error { return msg.Nak() }, "")
			continue
		}
		a.jobs.Go(func() {
			defer func() { <-slots }()
			a.handle(context.WithoutCancel(ctx), msg, cons)
		})
	}
}

// handBack returns to JetStream the jobs left in a draining pull's buffer,
// so that they are delivered again at once rather than after the ack wait.
func (a *agent) handBack(it jetstream.MessagesContext) {
	for {
		msg, err := it.Next()
		if err != nil {
			return
		}
		a.settle(func() error { return msg.Nak() }, "")
	}
}

// pause logs why the last pull failed and waits before the next one. It
// reports whether ctx is still alive.
func (a *agent) pause(ctx context.Context, attempt *int, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	a.log.Warn("pulling jobs failed", "error", err, "attempt", *attempt+1)
	*attempt++
	return sleep(ctx, backoff(*attempt))
}

// consumer finds the agent's durable consumer of jobs, trying again until
// it exists or ctx is done. The server creates it when the agent enrolls;
// the agent is not allowed to.
func (a *agent) consumer(ctx context.Context) jetstream.Consumer {
	name := wire.ConsumerName(a.id.info.AgentID)
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		cons, err := a.js.Consumer(cctx, wire.JobStream, name)
		cancel()
		if err == nil {
			a.log.Debug("job consumer found", "consumer", name)
			return cons
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("job consumer not available", "consumer", name, "error", err)
		if !sleep(ctx, backoff(attempt)) {
			return nil
		}
	}
}

// handle takes one job message: it decides whether the job may run,
// runs it and answers. ctx is never done; each step has its own bound.
func (a *agent) handle(ctx context.Context, msg jetstream.Msg, cons jetstream.Consumer) {
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	env, ok := a.admit(ctx, msg)
	if !ok {
		return
	}
	p, err := env.Open(a.id.keys)
	if err != nil {
		a.refuse(ctx, msg, env, ReasonBadSeal, "the job does not open with this agent's key")
		return
	}
	defer p.Wipe()
	d, reason := a.driverFor(p)
	if reason != "" {
		a.refuse(ctx, msg, env, reason, "the agent cannot run this job")
		return
	}
	if !a.accept(ctx, msg, env) {
		return
	}
	stop := keepInProgress(msg, ackWait(cons))
	ev := runJob(ctx, d, env, p)
	stop()
	a.finish(ctx, msg, env, p, ev)
}

// admit decodes a job message and checks, in this order, that it is for
// this agent, that its deadline is far enough and that it is new, which
// it records in the journal before anything else happens. It answers or
// settles every message it does not admit.
func (a *agent) admit(ctx context.Context, msg jetstream.Msg) (*wire.Envelope, bool) {
	env := new(wire.Envelope)
	if err := json.Unmarshal(msg.Data(), env); err != nil {
		a.log.Warn("job dropped", "reason", "undecodable", "error", err)
		a.settle(msg.Term, "")
		return nil, false
	}
	if env.AgentID != a.id.info.AgentID {
		a.log.Warn("job dropped", "job_id", env.JobID, "reason", "not_for_this_agent",
			"addressed_to", env.AgentID)
		a.settle(msg.Term, env.JobID)
		return nil, false
	}
	if time.Until(env.Deadline) < a.cfg.DeadlineMargin {
		a.refuse(ctx, msg, env, ReasonDeadlinePassed, "the job's deadline is past or too near")
		return nil, false
	}
	fresh, err := a.journal.add(env.JobID, env.Deadline)
	if err != nil {
		a.log.Error("job not recorded in the journal; not run", "job_id", env.JobID, "error", err)
		a.settle(func() error { return msg.NakWithDelay(retryNak) }, env.JobID)
		return nil, false
	}
	if !fresh {
		a.refuse(ctx, msg, env, ReasonAlreadyRun, "the agent took this job before")
		return nil, false
	}
	return env, true
}

// driverFor returns the driver of p, or the reason the agent refuses p.
func (a *agent) driverFor(p *wire.Payload) (sdk.Driver, string) {
	switch {
	case p.Op == wire.OpChange && len(p.New) > 0:
	case p.Op == wire.OpCheck && len(p.Candidates) > 0:
	default:
		return nil, ReasonBadJob
	}
	d, err := a.cfg.Drivers.Driver(p.Driver)
	if err != nil || d == nil {
		a.log.Warn("no driver for job", "job_id", p.JobID, "driver", p.Driver, "error", err)
		return nil, ReasonNoDriver
	}
	return d, ""
}

// accept publishes the accepted event and reports whether JetStream
// stored it. A job the server may not know started must not start: when
// the event is not stored, the job is dropped unrun.
func (a *agent) accept(ctx context.Context, msg jetstream.Msg, env *wire.Envelope) bool {
	ev := &wire.Event{Kind: wire.EventAccepted, JobID: env.JobID}
	until := time.Now().Add(acceptWait)
	if env.Deadline.Before(until) {
		until = env.Deadline
	}
	dup, err := a.publish(ctx, ev, until)
	switch {
	case err != nil:
		a.log.Warn("job not started", "job_id", env.JobID, "reason", "accepted_not_stored",
			"error", err)
		a.jobs.Go(func() { a.tellNotStarted(ctx, env) })
	case dup:
		// The event store already holds an accepted event of this job:
		// it ran here before, whatever the journal says.
		a.log.Warn("job not started", "job_id", env.JobID, "reason", ReasonAlreadyRun)
	default:
		return true
	}
	a.settle(msg.Term, env.JobID)
	return false
}

// tellNotStarted tells the server, once NATS takes events again, that a
// job was dropped unrun, so that it ends now rather than at its deadline.
// The journal keeps the job id: a later delivery is refused.
func (a *agent) tellNotStarted(ctx context.Context, env *wire.Envelope) {
	ev := &wire.Event{Kind: wire.EventRefused, JobID: env.JobID, Reason: ReasonNotStarted,
		Message: "the agent could not record that it started the job, and did not run it"}
	if _, err := a.publish(ctx, ev, env.Deadline.Add(resultGrace)); err != nil {
		a.log.Warn("job refusal not delivered", "job_id", env.JobID, "error", err)
	}
}

// finish publishes the result of a job, trying until a minute past its
// deadline, and then acknowledges the job.
func (a *agent) finish(
	ctx context.Context, msg jetstream.Msg, env *wire.Envelope, p *wire.Payload, ev *wire.Event,
) {
	outcome := "ok"
	if !ev.OK {
		outcome = "failed"
	}
	a.log.Info("job done", "job_id", env.JobID, "op", p.Op, "driver", p.Driver,
		"outcome", outcome, "reason", ev.Reason)
	if _, err := a.publish(ctx, ev, env.Deadline.Add(resultGrace)); err != nil {
		a.log.Error("job result not delivered", "job_id", env.JobID, "error", err)
	}
	a.settle(msg.Ack, env.JobID)
}

// refuse tells the server the agent will not run a job, then
// acknowledges the job so that it is not delivered again.
func (a *agent) refuse(
	ctx context.Context, msg jetstream.Msg, env *wire.Envelope, reason, message string,
) {
	a.log.Info("job refused", "job_id", env.JobID, "reason", reason)
	ev := &wire.Event{Kind: wire.EventRefused, JobID: env.JobID, Reason: reason, Message: message}
	if _, err := a.publish(ctx, ev, time.Now().Add(refuseWait)); err != nil {
		a.log.Warn("job refusal not delivered", "job_id", env.JobID, "error", err)
	}
	a.settle(msg.Ack, env.JobID)
}

// settle acknowledges, terminates or delays a job message, logging a
// failure: JetStream delivers the job again and the agent refuses it.
func (a *agent) settle(op func() error, jobID string) {
	if err := op(); err != nil {
		a.log.Warn("job message not settled", "job_id", jobID, "error", err)
	}
}

// publish signs ev and publishes it to the event stream, trying again
// until JetStream stores it or until passes. The job id and the kind make
// the message id, so that a retry of a stored event is not stored twice;
// dup reports that JetStream had it already.
func (a *agent) publish(
	ctx context.Context, ev *wire.Event, until time.Time,
) (dup bool, err error) {
	ev.Time = time.Now().UTC()
	ev.Sign(a.id.keys)
	data, err := json.Marshal(ev)
	if err != nil {
		return false, wrapf(err, "encoding event")
	}
	subject := wire.EventSubject(a.id.info.AgentID)
	opts := []jetstream.PublishOpt{
		jetstream.WithMsgID(ev.JobID + "." + ev.Kind),
		jetstream.WithExpectStream(wire.EventStream),
	}
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		ack, err := a.js.Publish(actx, subject, data, opts...)
		cancel()
		if err == nil {
			return ack.Duplicate, nil
		}
		wait := backoff(attempt)
		if time.Now().Add(wait).After(until) {
			return false, wrapf(err, "publishing %s event", ev.Kind)
		}
		a.log.Debug("event not stored yet", "job_id", ev.JobID, "kind", ev.Kind, "error", err)
		sleep(ctx, wait)
	}
}

// ackWait returns the consumer's ack wait, or a guess when unknown.
func ackWait(cons jetstream.Consumer) time.Duration {
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		return info.Config.AckWait
	}
	return 30 * time.Second
}

// keepInProgress tells JetStream, every third of the ack wait, that the
// job is still running, so that it is not delivered again meanwhile. It
// returns the function that stops it.
func keepInProgress(msg jetstream.Msg, wait time.Duration) func() {
	every := max(wait/3, time.Second)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
