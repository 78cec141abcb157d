package agent

import (
	"context"
	"sync"
	"time"

	json "github.com/go-json-experiment/json/v1"
	"github.com/nats-io/nats.go"

	"github.com/passman-dev/passman/internal/wire"
)

// offer is a message of jobs the server offered the agent directly. The
// first way the agent settles it is its answer: a message handed back is
// not taken, and the server queues it instead; a message acknowledged or
// dropped is taken. Settling it again does nothing: once taken, it cannot
// come back, and the server's queued copy of one taken late is refused as
// taken before.
type offer struct {
	m        *nats.Msg
	mu       sync.Mutex
	answered bool
}

func (o *offer) Data() []byte { return o.m.Data }

func (o *offer) Ack() error { return o.answer(true) }

func (o *offer) Term() error { return o.answer(true) }

func (o *offer) NakWithDelay(time.Duration) error { return o.answer(false) }

// answer tells the server, the first time only, whether the agent takes
// the message.
func (o *offer) answer(taken bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.answered {
		return nil
	}
	o.answered = true
	data, err := json.Marshal(&wire.OfferReply{Taken: taken})
	if err != nil {
		return err
	}
	return o.m.Respond(data)
}

// takeOffers answers the server's direct offers of jobs until the
// returned function is called: the agent takes a message while it has a
// free slot, and the server queues those it does not take. The function
// returns once no offer is being taken.
func (a *agent) takeOffers(ctx context.Context) (stop func()) {
	sub, err := a.nc.Subscribe(wire.OfferSubject(a.id.info.AgentID), func(m *nats.Msg) {
		a.offered(ctx, m)
	})
	if err != nil {
		a.log.Warn("job offers not taken; jobs come through the queue", "error", err)
		return func() {}
	}
	return func() {
		_ = sub.Unsubscribe()
		a.offers.Lock()
		a.offersClosed = true
		a.offers.Unlock()
	}
}

// offered takes an offered message and works on it, or answers that it
// does not take it: when every slot is busy, or the agent is stopping.
func (a *agent) offered(ctx context.Context, m *nats.Msg) {
	o := &offer{m: m}
	a.offers.RLock()
	defer a.offers.RUnlock()
	if a.offersClosed || ctx.Err() != nil {
		a.settle(func() error { return o.answer(false) }, "")
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		a.settle(func() error { return o.answer(false) }, "")
		return
	}
	t, ok := a.take(o)
	if !ok {
		<-a.slots
		return
	}
	a.settle(func() error { return o.answer(true) }, firstJob(t.env))
	a.jobs.Go(func() {
		defer func() { <-a.slots }()
		a.work(context.WithoutCancel(ctx), t)
	})
}
