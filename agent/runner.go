package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/go-json-experiment/json/v1"
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
	// acceptWait bounds the wait for the server to record that jobs
	// start. A job it has not answered for by then does not run.
	acceptWait = 5 * time.Second
	// startAttempt bounds one request to record that jobs start.
	startAttempt = time.Second
	// reportAttempt bounds the request that hands a report to the server
	// directly; past it, the report goes through the event stream.
	reportAttempt = 2 * time.Second
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
	// running holds a place for each job that runs, MaxInFlight at most.
	running chan struct{}
	// slots holds a place for each message of jobs being handled, from
	// the queue or offered, MaxInFlight at most.
	slots chan struct{}
	// offers guards the start of the work on an offered message against
	// the end of the agent: stopOffers takes it to wait out those under
	// way, and sets offersClosed.
	offers       sync.RWMutex
	offersClosed bool
	reports      *reporter
	// answers routes the answers to the requests to record starts.
	answers *answers
	// opener opens the agent's envelopes, decapsulating each key once.
	opener *wire.Opener
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
	a := &agent{cfg: cfg, log: log, id: id, journal: j, nc: nc, js: js,
		running: make(chan struct{}, cfg.MaxInFlight),
		slots:   make(chan struct{}, cfg.MaxInFlight), opener: wire.NewOpener(id.keys, id.info.JobsKey)}
	a.reports = newReporter(a)
	if a.answers, err = newAnswers(nc); err != nil {
		nc.Close()
		return nil, err
	}
	return a, nil
}

// serve sends heartbeats and takes jobs until ctx is done, then waits for
// the jobs in flight. Heartbeats and reports go on until the last job
// ends.
func (a *agent) serve(ctx context.Context) {
	// Offers are heard before the first heartbeat tells the server that
	// the agent is online.
	stopOffers := a.takeOffers(ctx)
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { a.heartbeats(bgCtx) })
	bg.Go(func() { a.reports.run(bgCtx) })
	a.takeJobs(ctx)
	stopOffers()
	a.jobs.Wait()
	stopBg()
	bg.Wait()
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
		a.pull(ctx, it, cons, &attempt)
		stop()
		it.Stop()
	}
}

// pull hands the jobs of it to their goroutines, one per free slot, until
// it fails or closes. Once ctx is done, the jobs left in its buffer are
// handed back.
func (a *agent) pull(ctx context.Context, it jetstream.MessagesContext,
	cons jetstream.Consumer, attempt *int) {
	slots := a.slots
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

// jobMsg is a message of jobs, from the agent's queue or offered by the
// server directly, and how the agent settles it.
type jobMsg interface {
	Data() []byte
	// Ack settles a message whose jobs the agent answered for.
	Ack() error
	// Term settles a message the agent drops.
	Term() error
	// NakWithDelay hands a message back, to come again after a while.
	NakWithDelay(time.Duration) error
}

// handle takes one message of jobs from the agent's queue and works on
// it, telling JetStream meanwhile that it is still at work.
func (a *agent) handle(ctx context.Context, msg jetstream.Msg, cons jetstream.Consumer) {
	t, ok := a.take(msg)
	if !ok {
		return
	}
	stop := keepInProgress(msg, ackWait(cons))
	defer stop()
	a.work(ctx, t)
}

// taken is a message of jobs the agent took, its new jobs reserved in the
// journal.
type taken struct {
	msg      jobMsg
	env      *wire.Envelope
	fresh    []wire.JobHeader
	refusals []refusal
	// synced waits until the new jobs' records are on disk.
	synced func() error
	// start is the request, sent already, that the server record the
	// new jobs as started.
	start *startRequest
}

// take decodes a message of jobs, sorts out those it refuses for their
// deadline or because it took them before, reserves the new ones in the
// journal, and asks the server at once to record them as started. It
// settles a message it does not take and reports false.
func (a *agent) take(msg jobMsg) (*taken, bool) {
	env, timely, refusals, ok := a.admit(msg)
	if !ok {
		return nil, false
	}
	fresh, refusals, synced, ok := a.record(msg, env, timely, refusals)
	if !ok {
		return nil, false
	}
	return &taken{msg: msg, env: env, fresh: fresh, refusals: refusals, synced: synced,
		start: a.sendStart(env, fresh)}, true
}

// work decides which jobs of t may run, opens them, has the server record
// those it starts, runs them and answers for every one. ctx is never
// done; each step has its own bound.
func (a *agent) work(ctx context.Context, t *taken) {
	// The new jobs' records sync, the server records them as started,
	// and their payloads open and their changes get ready, all at the
	// same time; no job runs before all are done.
	journaled := make(chan error, 1)
	go func() { journaled <- t.synced() }()
	var o opening
	if len(t.fresh) > 0 {
		o.ps, o.err = a.opener.Open(t.env)
	}
	runs, unfit := a.runnable(o, t.fresh)
	a.prepare(ctx, runs)
	acc := a.awaitStart(ctx, t.start)
	runs, refusals, started := a.startable(ctx, acc, runs, unfit, t.refusals)
	if err := <-journaled; err != nil {
		a.journalFailed(ctx, t.msg, t.env, runs, refusals, started, err)
		return
	}
	defer a.releaseRuns(runs)

	answered := a.refuseAll(refusals)
	var jobs sync.WaitGroup
	for i, r := range runs {
		if i == len(runs)-1 {
			// The last one runs here: a message of one job, the usual
			// case when the agent is not busy, takes no goroutine hop.
			a.runOne(ctx, r)
			break
		}
		jobs.Go(func() { a.runOne(ctx, r) })
	}
	jobs.Wait()
	for _, done := range answered {
		<-done
	}
	if !started && len(t.fresh) > 0 {
		a.settle(t.msg.Term, firstJob(t.env))
		return
	}
	a.settle(t.msg.Ack, firstJob(t.env))
}

// run is one job of a message that the agent may start.
type run struct {
	h wire.JobHeader
	p *wire.Payload
	d sdk.Driver
	// placed says the run holds a running place already.
	placed bool
	// prep is the change the driver was asked to get ready before the
	// start was recorded, or nil.
	prep *preparation
}

// refusal is a job of a message that the agent will not run, and why.
type refusal struct {
	h       wire.JobHeader
	reason  string
	message string
}

// opening is the outcome of opening a message's payloads.
type opening struct {
	ps  []*wire.Payload
	err error
}

// admit decodes a message of jobs, checks that it is for this agent and
// sealed by its server, and sorts its jobs into those whose deadline is
// far enough and those it refuses for their deadline. It settles a message it does not admit and
// reports false.
func (a *agent) admit(msg jobMsg) (*wire.Envelope, []wire.JobHeader, []refusal, bool) {
	env := new(wire.Envelope)
	if err := json.Unmarshal(msg.Data(), env); err != nil || len(env.Jobs) == 0 ||
		len(env.Jobs) > wire.MaxBatch {
		a.log.Warn("jobs dropped", "reason", "undecodable", "error", err, "jobs", len(env.Jobs))
		a.settle(msg.Term, "")
		return nil, nil, nil, false
	}
	if env.AgentID != a.id.info.AgentID {
		a.log.Warn("jobs dropped", "job_id", firstJob(env), "jobs", len(env.Jobs),
			"reason", "not_for_this_agent", "addressed_to", env.AgentID)
		a.settle(msg.Term, firstJob(env))
		return nil, nil, nil, false
	}
	// Jobs someone else sealed are dropped unanswered: an answer for their
	// ids could end the server's real jobs of the same ids.
	if err := a.opener.Check(env); err != nil {
		a.log.Warn("jobs dropped", "job_id", firstJob(env), "jobs", len(env.Jobs),
			"reason", "not_sealed_by_server", "error", err)
		a.settle(msg.Term, firstJob(env))
		return nil, nil, nil, false
	}
	var timely []wire.JobHeader
	var refusals []refusal
	for _, h := range env.Jobs {
		if time.Until(h.Deadline) < a.cfg.DeadlineMargin {
			refusals = append(refusals, refusal{h, ReasonDeadlinePassed,
				"the job's deadline is past or too near"})
			continue
		}
		timely = append(timely, h)
	}
	return env, timely, refusals, true
}

// record reserves the timely jobs of a message in the journal and
// returns those that are new, adding the others to refusals, with the
// function that waits until their records are on disk. When the journal
// cannot take them, it hands the message back for later and reports
// false.
func (a *agent) record(msg jobMsg, env *wire.Envelope, timely []wire.JobHeader,
	refusals []refusal) ([]wire.JobHeader, []refusal, func() error, bool) {
	if len(timely) == 0 {
		return nil, refusals, func() error { return nil }, true
	}
	isNew, synced, err := a.journal.reserve(timely)
	if err != nil {
		a.log.Error("jobs not recorded in the journal; not run", "job_id", firstJob(env),
			"jobs", len(env.Jobs), "error", err)
		a.settle(func() error { return msg.NakWithDelay(retryNak) }, firstJob(env))
		return nil, nil, nil, false
	}
	var fresh []wire.JobHeader
	for i, h := range timely {
		if !isNew[i] {
			refusals = append(refusals, refusal{h, ReasonAlreadyRun,
				"the agent took this job before"})
			continue
		}
		fresh = append(fresh, h)
	}
	return fresh, refusals, synced, true
}

// journalFailed settles a message whose jobs could not be written to the
// journal. None of them runs. When the server has recorded some as
// started, it is told that they did not start, the other jobs are refused
// and the message is dropped. Otherwise the server started none and wants
// none run here: a message from the queue comes back later all the same,
// and an offered one, taken already, is dropped.
func (a *agent) journalFailed(ctx context.Context, msg jobMsg, env *wire.Envelope,
	runs []*run, refusals []refusal, started bool, err error) {
	a.log.Error("jobs not recorded in the journal; not run", "job_id", firstJob(env),
		"jobs", len(env.Jobs), "error", err)
	a.releaseRuns(runs)
	if !started {
		a.settle(func() error { return msg.NakWithDelay(retryNak) }, firstJob(env))
		return
	}
	if len(runs) > 0 {
		a.jobs.Go(func() { a.tellNotStarted(ctx, runs) })
	}
	for _, done := range a.refuseAll(refusals) {
		<-done
	}
	a.settle(msg.Term, firstJob(env))
}

// runnable returns the jobs of a message that the agent can run, with
// their payloads from o, and refusals for the others. It wipes the
// payloads of the jobs it refuses.
func (a *agent) runnable(o opening, jobs []wire.JobHeader) ([]*run, []refusal) {
	var refusals []refusal
	if o.err != nil {
		why := "the job does not open with this agent's key"
		if errors.Is(o.err, wire.ErrUnsigned) {
			why = "the job is not sealed by the agent's server"
		}
		a.log.Warn("jobs not opened", "job_id", jobs[0].JobID, "jobs", len(jobs),
			"error", o.err)
		for _, h := range jobs {
			refusals = append(refusals, refusal{h, ReasonBadSeal, why})
		}
		return nil, refusals
	}
	byID := make(map[string]*wire.Payload, len(o.ps))
	for _, p := range o.ps {
		byID[p.JobID] = p
	}
	var runs []*run
	for _, h := range jobs {
		p := byID[h.JobID]
		d, reason := a.driverFor(p)
		if reason != "" {
			refusals = append(refusals, refusal{h, reason, "the agent cannot run this job"})
			continue
		}
		runs = append(runs, &run{h: h, p: p, d: d})
	}
	kept := make(map[*wire.Payload]bool, len(runs))
	for _, r := range runs {
		kept[r.p] = true
	}
	for _, p := range o.ps {
		if !kept[p] {
			p.Wipe()
		}
	}
	return runs, refusals
}

// firstJob names a message by its first job, for logs.
func firstJob(env *wire.Envelope) string {
	if env == nil || len(env.Jobs) == 0 {
		return ""
	}
	return env.Jobs[0].JobID
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

// acceptance is the server's answer to a request to start jobs: those it
// recorded as started, or why there is no answer.
type acceptance struct {
	started map[string]bool
	err     error
}

// startRequest is a request, sent already, that the server record jobs
// as started.
type startRequest struct {
	env   *wire.Envelope
	jobs  []wire.JobHeader
	req   *pending
	err   error
	until time.Time
}

// sendStart asks the server to record jobs as started, without waiting
// for its answer. It returns nil for no jobs.
func (a *agent) sendStart(env *wire.Envelope, jobs []wire.JobHeader) *startRequest {
	if len(jobs) == 0 {
		return nil
	}
	r := &wire.Report{}
	sr := &startRequest{env: env, jobs: jobs, until: time.Now().Add(acceptWait)}
	for _, h := range jobs {
		r.Events = append(r.Events, wire.Event{Kind: wire.EventAccepted, JobID: h.JobID})
		if h.Deadline.Before(sr.until) {
			sr.until = h.Deadline
		}
	}
	data, err := a.signed(r)
	if err != nil {
		sr.err = err
		return sr
	}
	sr.req = a.answers.send(wire.AcceptSubject(a.id.info.AgentID), data)
	return sr
}

// awaitStart returns the jobs the server recorded as started: no other may
// start, since the server could not tell that it touched the target.
// Until the request's deadline, it sends the request again after any
// attempt that got no answer: the server answers a request it recorded
// already as it did the first time.
func (a *agent) awaitStart(ctx context.Context, sr *startRequest) acceptance {
	if sr == nil {
		return acceptance{}
	}
	reply, err := sr.answer(ctx)
	if err != nil {
		a.log.Warn("jobs not started", "job_id", firstJob(sr.env), "jobs", len(sr.jobs),
			"reason", "start_not_recorded", "error", err)
		return acceptance{err: err}
	}
	started := make(map[string]bool, len(reply.Started))
	for _, id := range reply.Started {
		started[id] = true
	}
	return acceptance{started: started}
}

// answer waits for the server's answer to the request and decodes it.
func (sr *startRequest) answer(ctx context.Context) (*wire.AcceptReply, error) {
	if sr.err != nil {
		return nil, sr.err
	}
	rctx, cancel := context.WithDeadline(ctx, sr.until)
	defer cancel()
	b, err := sr.req.await(rctx, startAttempt, sr.until)
	if err != nil {
		return nil, wrapf(err, "asking the server to record %d started jobs", len(sr.jobs))
	}
	reply := new(wire.AcceptReply)
	if err := json.Unmarshal(b, reply); err != nil {
		return nil, wrapf(err, "decoding the server's answer")
	}
	if reply.Error != "" {
		return nil, errors.New("the server recorded none: " + reply.Error)
	}
	return reply, nil
}

// startable returns the jobs of runs that the server recorded as started,
// and refusals with the unfit jobs it recorded as started: they end at
// once, the target untouched. A job the server did not record as started
// is not run and not answered for; the server has it started, ended or
// expired already. When the server did not answer, it may have recorded
// some: it is told, once NATS takes events again, that none of runs
// started. It releases the jobs that do not run, and reports whether any
// job of the message was recorded as started.
func (a *agent) startable(ctx context.Context, acc acceptance, runs []*run,
	unfit, refusals []refusal) ([]*run, []refusal, bool) {
	if acc.err != nil {
		a.releaseRuns(runs)
		if len(runs) > 0 {
			a.jobs.Go(func() { a.tellNotStarted(ctx, runs) })
		}
		return nil, append(refusals, unfit...), len(runs)+len(unfit) > 0
	}
	var taken []*run
	for _, r := range runs {
		if acc.started[r.h.JobID] {
			taken = append(taken, r)
			continue
		}
		a.log.Warn("job not started", "job_id", r.h.JobID, "reason", "not_waiting")
		r.release(a)
	}
	started := len(taken) > 0
	for _, u := range unfit {
		if acc.started[u.h.JobID] {
			refusals = append(refusals, u)
			started = true
			continue
		}
		a.log.Warn("job not started", "job_id", u.h.JobID, "reason", "not_waiting")
	}
	return taken, refusals, started
}

// releaseRuns releases what runs hold.
func (a *agent) releaseRuns(runs []*run) {
	for _, r := range runs {
		r.release(a)
	}
}

// tellNotStarted tells the server, once NATS takes events again, that
// jobs were dropped unrun, so that they end now rather than at their
// deadline. The journal keeps their ids: a later delivery is refused.
func (a *agent) tellNotStarted(ctx context.Context, runs []*run) {
	r := &wire.Report{}
	until := time.Time{}
	for _, run := range runs {
		r.Events = append(r.Events, wire.Event{Kind: wire.EventRefused, JobID: run.h.JobID,
			Reason:  ReasonNotStarted,
			Message: "the agent could not record that it started the job, and did not run it"})
		until = later(until, run.h.Deadline.Add(resultGrace))
	}
	data, err := a.signed(r)
	if err == nil {
		err = a.publish(ctx, r, data, until)
	}
	if err != nil {
		a.log.Warn("job refusals not delivered", "job_id", runs[0].h.JobID, "jobs", len(runs),
			"error", err)
	}
}

// runOne runs one accepted job and hands its result to the reporter,
// waiting until the result is stored or given up.
func (a *agent) runOne(ctx context.Context, r *run) {
	a.inFlight.Add(1)
	if !r.placed {
		a.running <- struct{}{}
		r.placed = true
	}
	ev := runJob(ctx, r)
	<-a.running
	r.placed = false
	a.inFlight.Add(-1)
	// A job that worked is detail: its driver logs what it changed and
	// the server audits every job. One that failed is worth a look.
	if ev.OK {
		a.log.Debug("job done", "job_id", r.h.JobID, "op", r.p.Op, "driver", r.p.Driver,
			"outcome", "ok")
	} else {
		a.log.Info("job done", "job_id", r.h.JobID, "op", r.p.Op, "driver", r.p.Driver,
			"outcome", "failed", "reason", ev.Reason)
	}
	if err := <-a.reports.send(ev, r.h.Deadline.Add(resultGrace)); err != nil {
		a.log.Error("job result not delivered", "job_id", r.h.JobID, "error", err)
	}
}

// refuseAll tells the server the agent will not run the jobs of refusals.
// It returns a channel per refusal that is closed once its report is
// stored or given up.
func (a *agent) refuseAll(refusals []refusal) []<-chan error {
	var out []<-chan error
	for _, r := range refusals {
		a.log.Info("job refused", "job_id", r.h.JobID, "reason", r.reason)
		ev := &wire.Event{Kind: wire.EventRefused, JobID: r.h.JobID, Reason: r.reason,
			Message: r.message}
		out = append(out, a.reports.send(ev, time.Now().Add(refuseWait)))
	}
	return out
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// settle acknowledges, terminates or delays a job message, logging a
// failure: JetStream delivers the jobs again and the agent refuses them.
func (a *agent) settle(op func() error, jobID string) {
	if err := op(); err != nil {
		a.log.Warn("job message not settled", "job_id", jobID, "error", err)
	}
}

// signed signs r and returns it encoded.
func (a *agent) signed(r *wire.Report) ([]byte, error) {
	r.Time = time.Now().UTC()
	r.Sign(a.id.keys)
	data, err := json.Marshal(r)
	if err != nil {
		return nil, wrapf(err, "encoding report")
	}
	return data, nil
}

// deliver hands r to the server: in a request on the agent's report
// subject, which the server answers once r is applied and durable, or,
// when that request gets no such answer, through the event stream, until
// JetStream stores it or until passes. The server applies a report it
// gets both ways once.
func (a *agent) deliver(ctx context.Context, r *wire.Report, until time.Time) error {
	data, err := a.signed(r)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, reportAttempt)
	msg, err := a.nc.RequestWithContext(rctx, wire.ReportSubject(a.id.info.AgentID), data)
	cancel()
	if err == nil {
		reply := new(wire.ReportReply)
		if err = json.Unmarshal(msg.Data, reply); err == nil && reply.Error != "" {
			err = errors.New(reply.Error)
		}
		if err == nil {
			return nil
		}
	}
	a.log.Debug("report not taken directly; publishing it", "job_id", r.Events[0].JobID,
		"events", len(r.Events), "error", err)
	return a.publish(ctx, r, data, until)
}

// publish publishes r, signed and encoded as data, to the event stream,
// trying again until JetStream stores it or until passes. The kinds and
// jobs of its events make the message id, so that a retry of a stored
// report is not stored twice.
func (a *agent) publish(ctx context.Context, r *wire.Report, data []byte, until time.Time) error {
	subject := wire.EventSubject(a.id.info.AgentID)
	opts := []jetstream.PublishOpt{
		jetstream.WithMsgID(r.MsgID()),
		jetstream.WithExpectStream(wire.EventStream),
	}
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		_, err := a.js.Publish(actx, subject, data, opts...)
		cancel()
		if err == nil {
			return nil
		}
		wait := backoff(attempt)
		if time.Now().Add(wait).After(until) {
			return wrapf(err, "publishing report of %d events", len(r.Events))
		}
		a.log.Debug("report not stored yet", "job_id", r.Events[0].JobID,
			"events", len(r.Events), "error", err)
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
