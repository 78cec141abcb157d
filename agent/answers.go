package agent

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// answers routes the answers to requests that the agent sends before it
// waits for them: a request goes out at once from the goroutine that
// makes it, which goes on with other work meanwhile. Each request has a
// reply subject of its own under one inbox of the agent's.
type answers struct {
	nc     *nats.Conn
	prefix string

	mu      sync.Mutex
	next    uint64
	waiting map[string]chan []byte
}

// newAnswers subscribes to the agent's inbox for answers.
func newAnswers(nc *nats.Conn) (*answers, error) {
	a := &answers{nc: nc, prefix: nc.NewInbox() + ".", waiting: map[string]chan []byte{}}
	if _, err := nc.Subscribe(a.prefix+"*", a.deliver); err != nil {
		return nil, wrapf(err, "subscribing to the agent's inbox")
	}
	return a, nil
}

// deliver hands an answer to the request waiting for it. A request keeps
// the first answer it gets; later ones, to attempts it made before, are
// dropped.
func (a *answers) deliver(m *nats.Msg) {
	a.mu.Lock()
	ch := a.waiting[strings.TrimPrefix(m.Subject, a.prefix)]
	a.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m.Data:
		default:
		}
	}
}

// pending is a request sent, whose answer is awaited later.
type pending struct {
	a       *answers
	subject string
	data    []byte
	token   string
	answer  chan []byte
}

// send publishes data on subject and returns the request, whose answer
// await waits for. A publication that fails is an attempt that got no
// answer.
func (a *answers) send(subject string, data []byte) *pending {
	a.mu.Lock()
	a.next++
	p := &pending{a: a, subject: subject, data: data, token: strconv.FormatUint(a.next, 36),
		answer: make(chan []byte, 1)}
	a.waiting[p.token] = p.answer
	a.mu.Unlock()
	p.publish()
	return p
}

func (p *pending) publish() {
	_ = p.a.nc.PublishRequest(p.subject, p.a.prefix+p.token, p.data)
}

// errNoAnswer is an attempt of a request that got no answer in time.
var errNoAnswer = errors.New("no answer")

// await waits until ctx is done for an answer to the request, sending it
// again after each attempt of every that gets none, with a backoff
// between attempts, while the next attempt would start before until.
func (p *pending) await(ctx context.Context, every time.Duration, until time.Time) ([]byte, error) {
	defer p.close()
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(every)
		select {
		case b := <-p.answer:
			t.Stop()
			return b, nil
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait := backoff(attempt)
		if time.Now().Add(wait).After(until) {
			return nil, errNoAnswer
		}
		select {
		case b := <-p.answer:
			return b, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		p.publish()
	}
}

// close stops waiting for answers.
func (p *pending) close() {
	p.a.mu.Lock()
	delete(p.a.waiting, p.token)
	p.a.mu.Unlock()
}
