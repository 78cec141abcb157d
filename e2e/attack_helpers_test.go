package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/pki"
)

// agentSecrets reads an agent's private keys from its data directory, as
// someone who stole them would.
func agentSecrets(t *testing.T, dir string) (*wire.Keys, nkeys.KeyPair) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Wire     json.RawMessage `json:"wire"`
		NATSSeed string          `json:"nats_seed"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	keys, err := wire.ParseKeys(f.Wire)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(f.NATSSeed))
	if err != nil {
		t.Fatal(err)
	}
	return keys, kp
}

// natsAs connects to the server's NATS with an nkey: the server's own (an
// attacker inside the server's host) or an agent's.
func (e *env) natsAs(t *testing.T, kp nkeys.KeyPair, opts ...nats.Option) *nats.Conn {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := pki.ClientTLSConfig(e.srv.CACert)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]nats.Option{nats.Secure(tlsCfg), nats.Nkey(pub, kp.Sign)}, opts...)
	nc, err := nats.Connect(e.srv.NATSURLs()[0], opts...)
	if err != nil {
		t.Fatalf("connecting to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// serverNATS connects to NATS with the server's own nkey.
func (e *env) serverNATS(t *testing.T) *nats.Conn {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join(e.srv.Dir, "nats-server.nk"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return e.natsAs(t, kp)
}

// jobsKey returns the server's jobs key, for tests that play the server
// replaying its own jobs.
func (e *env) jobsKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.srv.Dir, "jobs.key"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("decoding the jobs key: %v", err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// publishJob puts a sealed envelope in an agent's queue, under its own
// message id so that JetStream does not drop it as a duplicate.
func publishJob(t *testing.T, nc *nats.Conn, env *wire.Envelope, msgID string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, wire.JobSubject(env.AgentID), data, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatalf("publishing job: %v", err)
	}
}

// publishEvent puts a report on an agent's event subject.
func publishEvent(t *testing.T, nc *nats.Conn, agentID string, ev *wire.Report) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, wire.EventSubject(agentID), data); err != nil {
		t.Fatalf("publishing event: %v", err)
	}
}

// requestReport hands a report to the server in a request on agentID's
// report subject, as an agent does, and fails t unless the server answers.
func requestReport(t *testing.T, nc *nats.Conn, agentID string, ev *wire.Report) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request(wire.ReportSubject(agentID), data, 10*time.Second); err != nil {
		t.Fatalf("requesting report: %v", err)
	}
}
