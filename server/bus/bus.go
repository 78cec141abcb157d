// Package bus connects the PassMan server to NATS: it runs the embedded
// NATS server with JetStream (or connects to an external cluster),
// authenticates agents by their nkeys against the store, gives each agent
// only its own subjects, publishes jobs and takes agents' events.
//
// Jobs are offered to their agent directly first; those it does not take
// at once, and the reports the server does not answer for, travel through
// JetStream streams with work-queue retention: a job waits in its agent's
// queue while the agent is away, and an event waits for the server across
// a restart.
package bus

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/internal/wire"
)

// serverConsumer is the server's durable consumer of agents' events.
const serverConsumer = "server"

// eventWorkers bounds the events handled at once.
const eventWorkers = 256

// offerWait bounds the wait for an agent's answer to a job offer. An agent
// answers at once, before it runs anything; past this, the jobs are
// queued, and an agent that took them late refuses the queued copy.
const offerWait = time.Second

// Options configures a Bus.
type Options struct {
	// Listen is the embedded NATS server's address. Ignored when URL is
	// set. Default 127.0.0.1:4222; port 0 picks a free port.
	Listen string
	// URL points at an external NATS cluster instead of the embedded one.
	URL string
	// StoreDir is the embedded server's JetStream directory.
	StoreDir string
	// ServerTLS is the embedded server's TLS configuration. Required for
	// the embedded server: NATS is never served in clear.
	ServerTLS *tls.Config
	// ClientTLS is how the server's own connection verifies NATS.
	ClientTLS *tls.Config
	// Seed is the server's own nkey seed.
	Seed []byte
	// AgentByKey returns the id of the agent whose NATS public nkey is
	// key, for the embedded server's authentication.
	AgentByKey func(key string) (agentID string, ok bool)
	// Logger receives the bus's logs.
	Logger hclog.Logger
}

// Bus is the server's NATS connection and, when embedded, its NATS server.
type Bus struct {
	opts Options
	log  hclog.Logger
	ns   *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	urls []string
}

var (
	// ErrNoTLS is returned when the embedded server has no TLS.
	ErrNoTLS = errors.New("the embedded NATS server needs TLS")
)

// Start starts the embedded NATS server unless opts.URL is set, connects
// to NATS and creates the streams.
func Start(ctx context.Context, opts Options) (*Bus, error) {
	b := &Bus{opts: opts, log: opts.Logger}
	kp, err := nkeys.FromSeed(opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("reading server nkey: %w", err)
	}
	serverKey, _ := kp.PublicKey()
	if opts.URL == "" {
		if err := b.startEmbedded(serverKey); err != nil {
			return nil, err
		}
	} else {
		b.urls = []string{opts.URL}
	}
	if err := b.connect(kp, serverKey); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.ensureStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bus) startEmbedded(serverKey string) error {
	if b.opts.ServerTLS == nil {
		return ErrNoTLS
	}
	listen := b.opts.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("parsing NATS listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("parsing NATS port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	nopts := &server.Options{
		ServerName: "passman",
		Host:       host,
		Port:       port,
		// JetStream does not sync each message: no message is the only
		// record of anything that must survive a power cut. The store
		// holds every job before it is offered or queued, an agent
		// starts one only once the server has synced the record that it
		// started (and with it the job's own), and a job whose result is
		// lost ends unknown until a check settles it.
		JetStream:                  true,
		StoreDir:                   b.opts.StoreDir,
		TLSConfig:                  b.opts.ServerTLS,
		TLS:                        true,
		AllowNonTLS:                false,
		AlwaysEnableNonce:          true,
		CustomClientAuthentication: &authenticator{serverKey: serverKey, agentByKey: b.opts.AgentByKey, log: b.log},
		NoSigs:                     true,
		MaxPayload:                 1 << 20,
	}
	ns, err := server.NewServer(nopts)
	if err != nil {
		return fmt.Errorf("configuring NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{b.log.Named("nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return errors.New("the embedded NATS server did not start")
	}
	b.ns = ns
	b.urls = []string{"tls://" + ns.Addr().String()}
	b.log.Info("nats started", "url", b.urls[0], "jetstream", b.opts.StoreDir)
	return nil
}

// connect connects the server to NATS with its nkey: over TLS to an
// external cluster, and in process, through a pipe that never leaves the
// process and needs no TLS, to the embedded server.
func (b *Bus) connect(kp nkeys.KeyPair, serverKey string) error {
	url, link := b.urls[0], nats.Secure(b.opts.ClientTLS)
	if b.ns != nil {
		url, link = "nats://in-process", nats.InProcessServer(b.ns)
	}
	nc, err := nats.Connect(url,
		nats.Name("passman-server"),
		link,
		nats.Nkey(serverKey, kp.Sign),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { b.log.Info("nats reconnected") }),
	)
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc)
	return err
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	for _, cfg := range []jetstream.StreamConfig{
		{Name: wire.JobStream, Subjects: []string{wire.JobSubjects}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute},
		{Name: wire.EventStream, Subjects: []string{wire.EventSubjects}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute},
	} {
		if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("creating stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// URLs returns the NATS URLs agents connect to.
func (b *Bus) URLs() []string { return b.urls }

// EnsureAgent creates the durable consumer of an agent's jobs.
func (b *Bus) EnsureAgent(ctx context.Context, agentID string) error {
	_, err := b.js.CreateOrUpdateConsumer(ctx, wire.JobStream, jetstream.ConsumerConfig{
		Durable:       wire.ConsumerName(agentID),
		FilterSubject: wire.JobSubject(agentID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("creating consumer for agent %s: %w", agentID, err)
	}
	return nil
}

// PublishJob puts an envelope of jobs in its agent's queue. Its message id
// comes from its jobs, so publishing the same batch again within the
// duplicate window is a no-op.
func (b *Bus) PublishJob(ctx context.Context, env *wire.Envelope, data []byte) error {
	_, err := b.js.Publish(ctx, wire.JobSubject(env.AgentID), data, jetstream.WithMsgID(env.MsgID()))
	if err != nil {
		return fmt.Errorf("publishing %d jobs from %s: %w", len(env.Jobs), env.Jobs[0].JobID, err)
	}
	return nil
}

// OfferJob offers an envelope of jobs to its agent directly and reports
// whether the agent took it. An agent that is not connected, is busy or
// does not answer in time does not take it; the caller then queues it
// with PublishJob.
func (b *Bus) OfferJob(ctx context.Context, env *wire.Envelope, data []byte) bool {
	ctx, cancel := context.WithTimeout(ctx, offerWait)
	defer cancel()
	msg, err := b.nc.RequestWithContext(ctx, wire.OfferSubject(env.AgentID), data)
	if err != nil {
		if !errors.Is(err, nats.ErrNoResponders) {
			b.log.Debug("job offer not answered", "agent", env.AgentID,
				"job_id", env.Jobs[0].JobID, "error", err)
		}
		return false
	}
	reply := new(wire.OfferReply)
	return json.Unmarshal(msg.Data, reply) == nil && reply.Taken
}

// EventHandler handles one event published by agentID, the agent whose
// subject it came on. A nil error acknowledges the event; an error leaves
// it to be delivered again.
type EventHandler func(agentID string, data []byte) error

// ConsumeEvents runs h on every agent event until ctx is done.
func (b *Bus) ConsumeEvents(ctx context.Context, h EventHandler) error {
	cons, err := b.js.CreateOrUpdateConsumer(ctx, wire.EventStream, jetstream.ConsumerConfig{
		Durable:   serverConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("creating event consumer: %w", err)
	}
	// Events are handled concurrently, so that their synced writes share
	// fsyncs; the store serialises what they change.
	slots := make(chan struct{}, eventWorkers)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			agentID := m.Subject()[len(wire.EventSubject("")):]
			if err := h(agentID, m.Data()); err != nil {
				b.log.Warn("event not handled", "agent", agentID, "error", err)
				_ = m.NakWithDelay(time.Second)
				return
			}
			_ = m.Ack()
		}()
	})
	if err != nil {
		return fmt.Errorf("consuming events: %w", err)
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	return nil
}

// EventsPending returns how many events wait for the server.
func (b *Bus) EventsPending(ctx context.Context) (uint64, error) {
	cons, err := b.js.Consumer(ctx, wire.EventStream, serverConsumer)
	if err != nil {
		return 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// RequestHandler handles one request published by agentID, the agent
// whose subject it came on, and calls answer once with the reply; it may
// go on working after that.
type RequestHandler func(agentID string, data []byte, answer func([]byte))

// ServeRequests answers the requests agents publish on subjects, one
// subject filter of wire, with h until ctx is done. Requests are handled
// concurrently, so that their synced writes share fsyncs.
func (b *Bus) ServeRequests(ctx context.Context, subjects string, h RequestHandler) error {
	slots := make(chan struct{}, eventWorkers)
	sub, err := b.nc.Subscribe(subjects, func(m *nats.Msg) {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			agentID := wire.AgentOf(m.Subject)
			h(agentID, m.Data, func(reply []byte) {
				if err := m.Respond(reply); err != nil {
					b.log.Warn("request not answered", "agent", agentID, "subject", m.Subject,
						"error", err)
				}
			})
		}()
	})
	if err != nil {
		return fmt.Errorf("serving requests on %s: %w", subjects, err)
	}
	go func() { <-ctx.Done(); _ = sub.Unsubscribe() }()
	return nil
}

// SubscribeHeartbeats calls h with every agent heartbeat.
func (b *Bus) SubscribeHeartbeats(h func(agentID string, data []byte)) error {
	_, err := b.nc.Subscribe(wire.HeartbeatSubjects, func(m *nats.Msg) {
		h(m.Subject[len(wire.HeartbeatSubject("")):], m.Data)
	})
	return err
}

// Close disconnects and stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

// authenticator checks every NATS client's nkey signature of the nonce and
// gives it its permissions: all of them to the server, its own subjects to
// an enrolled agent, nothing to anyone else.
type authenticator struct {
	serverKey  string
	agentByKey func(string) (string, bool)
	log        hclog.Logger
}

// Check authenticates one client connection.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o.Nkey == "" || !verifyNonce(o.Nkey, o.Sig, c.GetNonce()) {
		a.log.Warn("nats connection refused", "remote", remote(c), "reason", "bad nkey signature")
		return false
	}
	if o.Nkey == a.serverKey {
		c.RegisterUser(&server.User{Username: "passman-server"})
		return true
	}
	id, ok := a.agentByKey(o.Nkey)
	if !ok {
		a.log.Warn("nats connection refused", "remote", remote(c), "reason", "unknown agent")
		return false
	}
	pub, sub := wire.AgentPermissions(id)
	c.RegisterUser(&server.User{Username: "agent-" + id, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: wire.AnswerWindow},
	}})
	return true
}

// remote names a client's address for the logs; an in-process client
// has none.
func remote(c server.ClientAuthentication) string {
	if a := c.RemoteAddress(); a != nil {
		return a.String()
	}
	return "in-process"
}

func verifyNonce(key, sig string, nonce []byte) bool {
	pub, err := nkeys.FromPublicKey(key)
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	return pub.Verify(nonce, raw) == nil
}

// natsLogger sends the NATS server's logs to hclog.
type natsLogger struct{ log hclog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Trace(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Trace(fmt.Sprintf(format, v...)) }
