package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/server/pki"
)

// goodToken is the enrollment token the test server accepts.
const goodToken = "enroll-token-0123456789"

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testBus plays the PassMan server's part for the agent: an embedded NATS
// server with JetStream and TLS on a random port, which logs agents in by
// their nkeys and gives them Permissions; the streams and each agent's
// durable consumer; the enrollment endpoint; and the server's reading of
// events and heartbeats, each verified with the agent's enrolled key.
type testBus struct {
	t      *testing.T
	ca     *pki.CA
	ns     *server.Server
	url    string
	key    nkeys.KeyPair
	keyPub string
	nc     *nats.Conn
	js     jetstream.JetStream
	web    *httptest.Server
	nextID string
	// jobsKey is the key the bus signs its sealers with, as a server does.
	jobsKey ed25519.PrivateKey

	mu       sync.Mutex
	agents   map[string]*testAgent // by agent id
	enrolls  int
	events   []*wire.Event
	rawEvent [][]byte
	beats    []*wire.Heartbeat
	// started are the jobs an accept request started.
	started map[string]bool
	// reports says how the bus answers reports sent in requests.
	reports reportAnswer
	// acceptDrops is how many of the next requests to start jobs the bus
	// ignores, as a server that never got them.
	acceptDrops int
	// streamed counts the reports that came through the event stream.
	streamed int
}

// reportAnswer is how the test bus answers a report sent in a request.
type reportAnswer int

const (
	// reportApplied records the report and answers that it is applied.
	reportApplied reportAnswer = iota
	// reportFailed answers that the report could not be applied.
	reportFailed
	// reportSilent does not answer.
	reportSilent
)

// answerReports sets how the bus answers reports sent in requests.
func (b *testBus) answerReports(how reportAnswer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reports = how
}

// dropAccepts makes the bus ignore the next n requests to start jobs.
func (b *testBus) dropAccepts(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.acceptDrops = n
}

// reportsStreamed returns how many reports came through the event stream.
func (b *testBus) reportsStreamed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.streamed
}

// testAgent is what the server keeps of an enrolled agent.
type testAgent struct {
	id      string
	hpke    []byte
	sign    ed25519.PublicKey
	natsKey string
}

// newTestBus starts the NATS server, the streams and the enrollment
// endpoint, all stopped when the test ends.
func newTestBus(t *testing.T) *testBus {
	t.Helper()
	ca, err := pki.NewCA("passman test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBus{t: t, ca: ca, agents: map[string]*testAgent{}, started: map[string]bool{}}
	b.key, err = nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	b.keyPub, _ = b.key.PublicKey()
	if _, b.jobsKey, err = ed25519.GenerateKey(nil); err != nil {
		t.Fatal(err)
	}
	b.startNATS()
	b.connect()
	b.createStreams()
	b.consumeEvents()
	b.startWeb()
	return b
}

// serverTLS issues a certificate for 127.0.0.1 under the test CA.
func (b *testBus) serverTLS() *tls.Config {
	b.t.Helper()
	cert, key, err := b.ca.IssueServer("127.0.0.1", []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		b.t.Fatal(err)
	}
	cfg, err := pki.ServerTLSConfig(cert, key)
	if err != nil {
		b.t.Fatal(err)
	}
	return cfg
}

func (b *testBus) startNATS() {
	b.t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host:                       "127.0.0.1",
		Port:                       server.RANDOM_PORT,
		JetStream:                  true,
		StoreDir:                   b.t.TempDir(),
		TLS:                        true,
		TLSConfig:                  b.serverTLS(),
		AlwaysEnableNonce:          true,
		CustomClientAuthentication: b,
		NoSigs:                     true,
		NoLog:                      true,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		b.t.Fatal("NATS did not start")
	}
	b.ns = ns
	b.url = "tls://" + ns.Addr().String()
	b.t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
}

// Check logs in a NATS client: the server role with every permission, an
// enrolled agent with Permissions, nobody else.
func (b *testBus) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if !nonceSigned(o.Nkey, o.Sig, c.GetNonce()) {
		return false
	}
	if o.Nkey == b.keyPub {
		c.RegisterUser(&server.User{Username: "server"})
		return true
	}
	ag := b.agentByKey(o.Nkey)
	if ag == nil {
		return false
	}
	pub, sub := Permissions(ag.id)
	c.RegisterUser(&server.User{Username: "agent-" + ag.id, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: wire.AnswerWindow},
	}})
	return true
}

// nonceSigned reports whether sig is key's signature of nonce.
func nonceSigned(key, sig string, nonce []byte) bool {
	kp, err := nkeys.FromPublicKey(key)
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && kp.Verify(nonce, raw) == nil
}

func (b *testBus) agentByKey(key string) *testAgent {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ag := range b.agents {
		if ag.natsKey == key {
			return ag
		}
	}
	return nil
}

func (b *testBus) agent(id string) *testAgent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.agents[id]
}

// clientTLS trusts the test CA.
func (b *testBus) clientTLS() *tls.Config {
	b.t.Helper()
	cfg, err := pki.ClientTLSConfig(b.ca.CertPEM)
	if err != nil {
		b.t.Fatal(err)
	}
	return cfg
}

func (b *testBus) connect() {
	b.t.Helper()
	nc, err := nats.Connect(b.url, nats.Secure(b.clientTLS()), nats.Nkey(b.keyPub, b.key.Sign))
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(nc.Close)
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		b.t.Fatal(err)
	}
}

func (b *testBus) createStreams() {
	b.t.Helper()
	queue := jetstream.WorkQueuePolicy
	for _, cfg := range []jetstream.StreamConfig{
		{Name: wire.JobStream, Subjects: []string{wire.JobSubjects}, Retention: queue},
		{Name: wire.EventStream, Subjects: []string{wire.EventSubjects}, Retention: queue},
	} {
		if _, err := b.js.CreateStream(context.Background(), cfg); err != nil {
			b.t.Fatal(err)
		}
	}
}

// consumeEvents reads the event stream as the server does and keeps every
// event, failing the test for one whose signature does not verify.
func (b *testBus) consumeEvents() {
	b.t.Helper()
	cons, err := b.js.CreateOrUpdateConsumer(context.Background(), wire.EventStream,
		jetstream.ConsumerConfig{Durable: "server", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		b.recordEvent(wire.AgentOf(m.Subject()), m.Data())
		b.mu.Lock()
		b.streamed++
		b.mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cc.Stop)
	b.serve(wire.AcceptSubjects, func(m *nats.Msg) {
		b.mu.Lock()
		drop := b.acceptDrops > 0
		if drop {
			b.acceptDrops--
		}
		b.mu.Unlock()
		if drop {
			return
		}
		started := b.recordAccept(wire.AgentOf(m.Subject), m.Data)
		reply, _ := json.Marshal(&wire.AcceptReply{Started: started})
		_ = m.Respond(reply)
	})
	b.serve(wire.ReportSubjects, func(m *nats.Msg) {
		b.mu.Lock()
		how := b.reports
		b.mu.Unlock()
		switch how {
		case reportApplied:
			b.recordEvent(wire.AgentOf(m.Subject), m.Data)
			_ = m.Respond([]byte(`{}`))
		case reportFailed:
			_ = m.Respond([]byte(`{"error":"the store is full"}`))
		}
	})
	sub, err := b.nc.Subscribe(wire.HeartbeatSubjects, func(m *nats.Msg) {
		b.recordBeat(strings.TrimPrefix(m.Subject, wire.HeartbeatSubject("")), m.Data)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// serve answers the requests on subjects with h until the test ends.
func (b *testBus) serve(subjects string, h nats.MsgHandler) {
	b.t.Helper()
	sub, err := b.nc.Subscribe(subjects, h)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func (b *testBus) recordEvent(agentID string, data []byte) {
	r := new(wire.Report)
	err := json.Unmarshal(data, r)
	if ag := b.agent(agentID); err == nil && ag != nil {
		err = r.Verify(ag.sign)
	}
	if err != nil || r.AgentID != agentID {
		b.t.Errorf("report on %s does not verify: %v", agentID, err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range r.Events {
		b.events = append(b.events, &r.Events[i])
	}
	b.rawEvent = append(b.rawEvent, data)
}

// recordAccept keeps the accepted events of an accept request, as the
// server records them, and returns the jobs it starts: those it had not
// started before.
func (b *testBus) recordAccept(agentID string, data []byte) []string {
	b.recordEvent(agentID, data)
	r := new(wire.Report)
	if err := json.Unmarshal(data, r); err != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var started []string
	for _, ev := range r.Events {
		if ev.Kind == wire.EventAccepted && !b.started[ev.JobID] {
			b.started[ev.JobID] = true
			started = append(started, ev.JobID)
		}
	}
	return started
}

func (b *testBus) recordBeat(agentID string, data []byte) {
	hb := new(wire.Heartbeat)
	err := json.Unmarshal(data, hb)
	if ag := b.agent(agentID); err == nil && ag != nil {
		err = hb.Verify(ag.sign)
	}
	if err != nil || hb.AgentID != agentID {
		b.t.Errorf("heartbeat on %s does not verify: %v", agentID, err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.beats = append(b.beats, hb)
}

// eventsOf returns the events of a job so far.
func (b *testBus) eventsOf(jobID string) []*wire.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*wire.Event
	for _, ev := range b.events {
		if ev.JobID == jobID {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits for the n-th event of a job (from 1) and returns it,
// failing the test when it is not of kind.
func (b *testBus) waitEvent(t *testing.T, jobID string, n int, kind string) *wire.Event {
	t.Helper()
	waitFor(t, fmt.Sprintf("event %d of job %s", n, jobID), func() bool {
		return len(b.eventsOf(jobID)) >= n
	})
	ev := b.eventsOf(jobID)[n-1]
	if ev.Kind != kind {
		t.Fatalf("event %d of job %s is %s (%s), want %s", n, jobID, ev.Kind, ev.Reason, kind)
	}
	return ev
}

// kinds lists the kinds and reasons of a job's events, as "kind/reason".
func (b *testBus) kinds(jobID string) []string {
	var out []string
	for _, ev := range b.eventsOf(jobID) {
		out = append(out, ev.Kind+"/"+ev.Reason)
	}
	return out
}

// startWeb serves the enrollment endpoint over TLS under the test CA.
// It gives the next agent the id in b.nextID and creates its consumer.
func (b *testBus) startWeb() {
	b.web = httptest.NewUnstartedServer(http.HandlerFunc(b.enroll))
	b.web.TLS = b.serverTLS()
	b.web.StartTLS()
	b.t.Cleanup(b.web.Close)
}

func (b *testBus) enroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeAPIError(w, api.Errorf(api.CodeInvalidJSON, "bad body"))
		return
	}
	b.mu.Lock()
	b.enrolls++
	b.mu.Unlock()
	if !req.Token.Equal(secret.FromString(goodToken)) {
		writeAPIError(w, api.Errorf(api.CodeUnauthenticated, "unknown enrollment token"))
		return
	}
	ag := &testAgent{id: b.nextID, hpke: req.HPKEKey, sign: req.SigningKey, natsKey: req.NATSKey}
	_, err := b.js.CreateOrUpdateConsumer(r.Context(), wire.JobStream, jetstream.ConsumerConfig{
		Durable:       wire.ConsumerName(ag.id),
		FilterSubject: wire.JobSubject(ag.id),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxDeliver:    -1,
	})
	if err != nil {
		writeAPIError(w, api.Errorf(api.CodeInternal, "creating consumer: %v", err))
		return
	}
	b.mu.Lock()
	b.agents[ag.id] = ag
	b.mu.Unlock()
	resp := api.EnrollResponse{AgentID: ag.id, Zone: "dc1", NATS: []string{b.url},
		CACert: string(b.ca.CertPEM), JobsKey: b.jobsKey.Public().(ed25519.PublicKey)}
	if req.Name == noJobsKey {
		resp.JobsKey = nil
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// noJobsKey is the agent name for which the bus answers an enrollment as
// a server that signs no jobs would.
const noJobsKey = "old-server"

func writeAPIError(w http.ResponseWriter, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(e)
}

// enrollAgent enrolls an agent with id into a fresh data directory and
// returns the directory.
func (b *testBus) enrollAgent(t *testing.T, id string) string {
	t.Helper()
	dir := t.TempDir()
	b.nextID = id
	err := Enroll(context.Background(), EnrollOptions{
		Server: b.web.URL, Token: secret.FromString(goodToken), CACert: b.ca.CertPEM,
		DataDir: dir, Name: "test-" + id, Version: "test",
	})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return dir
}

// job builds an envelope of one job for agentID due in ttl and seals p to
// the HPKE key of sealTo.
func (b *testBus) job(
	t *testing.T, agentID, sealTo string, ttl time.Duration, p *wire.Payload,
) []byte {
	t.Helper()
	return b.batch(t, agentID, sealTo, []time.Duration{ttl}, p)
}

// batch builds an envelope of several jobs for agentID, each due in its
// ttl, and seals their payloads to the HPKE key of sealTo.
func (b *testBus) batch(
	t *testing.T, agentID, sealTo string, ttls []time.Duration, ps ...*wire.Payload,
) []byte {
	t.Helper()
	return b.sealedBy(t, b.jobsKey, agentID, sealTo, ttls, ps...)
}

// sealedBy is batch with the sealer signed by jobsKey.
func (b *testBus) sealedBy(t *testing.T, jobsKey ed25519.PrivateKey, agentID, sealTo string,
	ttls []time.Duration, ps ...*wire.Payload) []byte {
	t.Helper()
	env := &wire.Envelope{AgentID: agentID}
	for i, p := range ps {
		env.Jobs = append(env.Jobs, wire.JobHeader{JobID: p.JobID,
			Deadline: time.Now().Add(ttls[i]).UTC()})
	}
	if err := env.Seal(b.agent(sealTo).hpke, jobsKey, ps...); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// send publishes a job envelope on the job subject of agentID.
func (b *testBus) send(t *testing.T, agentID string, data []byte) {
	t.Helper()
	if _, err := b.js.Publish(context.Background(), wire.JobSubject(agentID), data); err != nil {
		t.Fatal(err)
	}
}

// offer offers a message of jobs to an agent directly, as the server does,
// and returns its answer. It waits for the agent to listen, up to a few
// seconds: an offer no one hears is not taken.
func (b *testBus) offer(t *testing.T, agentID string, data []byte) bool {
	t.Helper()
	until := time.Now().Add(5 * time.Second)
	for {
		msg, err := b.nc.Request(wire.OfferSubject(agentID), data, 5*time.Second)
		if errors.Is(err, nats.ErrNoResponders) && time.Now().Before(until) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("offering jobs: %v", err)
		}
		reply := new(wire.OfferReply)
		if err := json.Unmarshal(msg.Data, reply); err != nil {
			t.Fatalf("decoding the offer's answer: %v", err)
		}
		return reply.Taken
	}
}

// consumerInfo returns the state of an agent's job consumer.
func (b *testBus) consumerInfo(t *testing.T, agentID string) *jetstream.ConsumerInfo {
	t.Helper()
	cons, err := b.js.Consumer(context.Background(), wire.JobStream, wire.ConsumerName(agentID))
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// runningAgent is an agent run by a test.
type runningAgent struct {
	stop func()
	logs *logbuf.Buffer
}

// startAgent runs the agent of dir until the test ends or stop is called.
func startAgent(t *testing.T, dir string, drivers DriverSource, mod func(*Config)) *runningAgent {
	t.Helper()
	logs := new(logbuf.Buffer)
	cfg := Config{
		DataDir: dir, Drivers: drivers, Version: "1.2.3", HeartbeatEvery: 50 * time.Millisecond,
		DeadlineMargin: 300 * time.Millisecond,
		Logger:         hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if t.Failed() || os.Getenv("AGENT_LOGS") != "" {
				t.Logf("agent logs:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return &runningAgent{stop: stop, logs: logs}
}

// fakeDriver is a driver whose targets are a map from account to the
// credential it holds. Accounts named "slow..." answer only when their
// request's context is done; accounts named "nologin..." never log in.
type fakeDriver struct {
	delay time.Duration

	mu         sync.Mutex
	values     map[string]string
	calls      map[string]int
	running    int
	maxRunning int
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{values: map[string]string{}, calls: map[string]int{}}
}

func (d *fakeDriver) set(account, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.values[account] = value
}

func (d *fakeDriver) value(account string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[account]
}

// callsOf returns how many times Change and Check ran for account.
func (d *fakeDriver) callsOf(account string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[account]
}

// enter counts a call and waits as the account asks.
func (d *fakeDriver) enter(ctx context.Context, account string) error {
	d.mu.Lock()
	d.calls[account]++
	d.running++
	d.maxRunning = max(d.maxRunning, d.running)
	d.mu.Unlock()
	if strings.HasPrefix(account, "slow") {
		<-ctx.Done()
		return ctx.Err()
	}
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
	return nil
}

func (d *fakeDriver) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running--
}

func (d *fakeDriver) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", CredentialTypes: []string{sdk.Password}}, nil
}

func (d *fakeDriver) Check(ctx context.Context, req *sdk.CheckRequest) (*sdk.CheckResult, error) {
	defer d.leave()
	if err := d.enter(ctx, req.Account); err != nil {
		return nil, err
	}
	if strings.HasPrefix(req.Account, "nologin") ||
		d.value(req.Account) != string(req.Credential.Value.Reveal()) {
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "%s cannot log in", req.Account)
	}
	return &sdk.CheckResult{HostKey: "fake-host-key"}, nil
}

func (d *fakeDriver) Change(
	ctx context.Context, req *sdk.ChangeRequest,
) (*sdk.ChangeResult, error) {
	defer d.leave()
	if err := d.enter(ctx, req.Account); err != nil {
		return nil, err
	}
	if d.value(req.Account) != string(req.Current.Reveal()) {
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "wrong current credential for %s", req.Account)
	}
	d.set(req.Account, string(req.New.Reveal()))
	return &sdk.ChangeResult{}, nil
}

// fakeDrivers is a DriverSource of drivers by name.
type fakeDrivers map[string]sdk.Driver

func (f fakeDrivers) Driver(name string) (sdk.Driver, error) {
	if d, ok := f[name]; ok {
		return d, nil
	}
	return nil, errors.New("no such driver")
}

func (f fakeDrivers) Loaded() []string {
	var names []string
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// preparingFake is a fakeDriver that prepares its changes, as a driver
// that logs in before its change may proceed does. A prepared change
// counts as running until it is made or dropped.
type preparingFake struct {
	*fakeDriver
	prepared, dropped atomic.Int32
}

func (d *preparingFake) Prepare(ctx context.Context, req *sdk.ChangeRequest) (sdk.Prepared, error) {
	d.prepared.Add(1)
	if err := d.enter(ctx, req.Account); err != nil {
		d.leave()
		return nil, err
	}
	if d.value(req.Account) != string(req.Current.Reveal()) {
		d.leave()
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "wrong current credential for %s", req.Account)
	}
	return &fakePrepared{d: d, req: req}, nil
}

// fakePrepared is a change preparingFake got ready.
type fakePrepared struct {
	d   *preparingFake
	req *sdk.ChangeRequest
}

func (p *fakePrepared) Rotate(ctx context.Context) (*sdk.RotateResult, error) {
	p.d.leave()
	return sdk.Rotate(ctx, p.d.fakeDriver, p.req)
}

func (p *fakePrepared) Close() {
	p.d.leave()
	p.d.dropped.Add(1)
}
