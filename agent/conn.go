package agent

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/passman-dev/passman/internal/wire"
)

// Bounds of the waits between attempts to reach NATS.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// flushTimeout bounds the last flush of acknowledgements at shutdown.
const flushTimeout = 2 * time.Second

// connect dials NATS as the agent: outward only, over TLS, logging in
// with its nkey, and trying again forever when the server is away. It
// returns at once even when NATS cannot be reached yet.
func connect(id *identity, log hclog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(strings.Join(id.info.NATS, ","),
		nats.Name("passman-agent-"+id.info.AgentID),
		nats.Secure(id.tls),
		nats.Nkey(id.nkeyPub, id.nkey.Sign),
		nats.CustomInboxPrefix(wire.InboxPrefix(id.info.AgentID)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts) }),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "error", err)
		}),
	)
	return nc, wrapf(err, "connecting to NATS")
}

// backoff returns how long to wait before the next of attempts: doubling
// from minBackoff up to maxBackoff, with up to a quarter more at random
// so that many agents do not come back all at once.
func backoff(attempts int) time.Duration {
	d := maxBackoff
	if attempts < 20 {
		d = min(minBackoff<<attempts, maxBackoff)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return d + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(d/4+1))
}

// sleep waits for d or until ctx is done, and reports whether ctx is
// still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// heartbeats publishes a signed heartbeat at once and then every
// HeartbeatEvery until ctx is done.
func (a *agent) heartbeats(ctx context.Context) {
	t := time.NewTicker(a.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		a.beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// describeDrivers returns what each loaded driver says of itself, asking
// each once.
func (a *agent) describeDrivers() []wire.DriverInfo {
	var out []wire.DriverInfo
	for _, name := range a.cfg.Drivers.Loaded() {
		if v, ok := a.described.Load(name); ok {
			out = append(out, v.(wire.DriverInfo))
			continue
		}
		info, err := a.describe(name)
		if err != nil {
			a.log.Debug("driver not described", "driver", name, "error", err)
			continue
		}
		a.described.Store(name, info)
		out = append(out, info)
	}
	return out
}

func (a *agent) describe(name string) (wire.DriverInfo, error) {
	d, err := a.cfg.Drivers.Driver(name)
	if err != nil {
		return wire.DriverInfo{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	desc, err := d.Describe(ctx)
	if err != nil {
		return wire.DriverInfo{}, err
	}
	info := wire.DriverInfo{Name: desc.Name, CredentialTypes: desc.CredentialTypes,
		Reconcile: desc.Reconcile}
	for _, p := range desc.Params {
		info.Params = append(info.Params, wire.ParamInfo{Name: p.Name, Description: p.Description,
			Required: p.Required})
	}
	return info, nil
}

// beat publishes one heartbeat with core NATS: a lost one matters not,
// the next follows.
func (a *agent) beat() {
	hb := wire.Heartbeat{
		Time:     time.Now().UTC(),
		Version:  a.cfg.Version,
		Drivers:  a.cfg.Drivers.Loaded(),
		InFlight: int(a.inFlight.Load()),
		Describe: a.describeDrivers(),
	}
	hb.Sign(a.id.keys)
	b, err := json.Marshal(hb)
	if err == nil {
		err = a.nc.Publish(wire.HeartbeatSubject(a.id.info.AgentID), b)
	}
	if err != nil {
		a.log.Debug("heartbeat not sent", "error", err)
	}
}
