package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passman-dev/passman/agent/plugins"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/plugins/sdk"
)

// The plugin host is the agent's driver source.
var _ DriverSource = (*plugins.Host)(nil)

// changeJob returns the payload of a password change on the fake driver.
func changeJob(jobID, account, current, next string) *wire.Payload {
	return &wire.Payload{
		JobID: jobID, Op: wire.OpChange, Driver: "fake", Target: wire.Target{Address: "10.0.0.7"},
		Account: account, Type: sdk.Password, Current: []byte(current), New: []byte(next),
	}
}

// secretValue returns a credential value unlike any other text, so that
// a search for it finds only a leak.
func secretValue(name string) string { return "Zq7-" + name + "-s3cr3t!" }

func TestJobs(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	bus.enrollAgent(t, "a2")
	drv := newFakeDriver()
	ag := startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	var secrets []string
	value := func(name string) string {
		v := secretValue(name)
		secrets = append(secrets, v)
		return v
	}

	t.Run("change runs once and its result verifies", func(t *testing.T) {
		cur, next := value("root-cur"), value("root-new")
		drv.set("root", cur)
		p := changeJob("j-change", "root", cur, next)
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
		bus.waitEvent(t, "j-change", 1, wire.EventAccepted)
		res := bus.waitEvent(t, "j-change", 2, wire.EventResult)
		if !res.OK {
			t.Fatalf("result OK=%v reason=%s", res.OK, res.Reason)
		}
		if drv.value("root") != next || drv.callsOf("root") != 2 {
			t.Errorf("the target holds the new value: %v; driver calls %d, want 2",
				drv.value("root") == next, drv.callsOf("root"))
		}
		if n := bus.reportsStreamed(); n != 0 {
			t.Errorf("%d reports came through the event stream, want all directly", n)
		}
	})

	t.Run("a report the server does not take goes through the event stream", func(t *testing.T) {
		defer bus.answerReports(reportApplied)
		for _, tc := range []struct {
			name, key string
			how       reportAnswer
		}{
			{"the server answers that it failed", "failed", reportFailed},
			{"the server does not answer", "silent", reportSilent},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bus.answerReports(tc.how)
				account, id := "fallback-"+tc.key, "j-fallback-"+tc.key
				cur, next := value(account+"-cur"), value(account+"-new")
				drv.set(account, cur)
				before := bus.reportsStreamed()
				bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute,
					changeJob(id, account, cur, next)))
				if res := bus.waitEvent(t, id, 2, wire.EventResult); !res.OK {
					t.Fatalf("result reason %s", res.Reason)
				}
				if n := bus.reportsStreamed() - before; n != 1 {
					t.Errorf("%d reports came through the event stream, want 1", n)
				}
				if evs := bus.eventsOf(id); len(evs) != 2 {
					t.Errorf("events %v, want accepted and one result", bus.kinds(id))
				}
			})
		}
	})

	t.Run("a job the server does not record as started does not run", func(t *testing.T) {
		// The server has it started already, by an earlier delivery to an
		// agent whose journal is lost, say.
		cur, next := value("taken-cur"), value("taken-new")
		drv.set("taken", cur)
		bus.mu.Lock()
		bus.started["j-taken"] = true
		bus.mu.Unlock()
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob("j-taken", "taken", cur, next)))
		bus.waitEvent(t, "j-taken", 1, wire.EventAccepted)
		waitFor(t, "the message to be settled", func() bool {
			ci := bus.consumerInfo(t, "a1")
			return ci.NumAckPending == 0 && ci.NumPending == 0
		})
		if n := drv.callsOf("taken"); n != 0 || drv.value("taken") != cur {
			t.Errorf("driver calls = %d, the target changed: %v", n, drv.value("taken") != cur)
		}
		if evs := bus.eventsOf("j-taken"); len(evs) != 1 {
			t.Errorf("events %v, want the accepted one alone", bus.kinds("j-taken"))
		}
	})

	t.Run("an offered job runs once and its queued copy is refused", func(t *testing.T) {
		cur, next := value("offer-cur"), value("offer-new")
		drv.set("offer", cur)
		data := bus.job(t, "a1", "a1", time.Minute, changeJob("j-offer", "offer", cur, next))
		if !bus.offer(t, "a1", data) {
			t.Fatal("the agent did not take the offered job")
		}
		if res := bus.waitEvent(t, "j-offer", 2, wire.EventResult); !res.OK {
			t.Fatalf("result reason %s", res.Reason)
		}
		// The server queues what it offered when it misses the answer.
		bus.send(t, "a1", data)
		if ev := bus.waitEvent(t, "j-offer", 3, wire.EventRefused); ev.Reason != ReasonAlreadyRun {
			t.Errorf("queued copy: reason %s, want %s", ev.Reason, ReasonAlreadyRun)
		}
		// And the same offer made again is taken and refused.
		if !bus.offer(t, "a1", data) {
			t.Error("the agent did not take the offer made again")
		}
		if ev := bus.waitEvent(t, "j-offer", 4, wire.EventRefused); ev.Reason != ReasonAlreadyRun {
			t.Errorf("offer made again: reason %s, want %s", ev.Reason, ReasonAlreadyRun)
		}
		if n := drv.callsOf("offer"); n != 2 || drv.value("offer") != next {
			t.Errorf("driver calls = %d, want 2; the target holds the new value: %v", n,
				drv.value("offer") == next)
		}
	})

	t.Run("a replayed job runs once", func(t *testing.T) {
		cur, next := value("replay-cur"), value("replay-new")
		drv.set("replay", cur)
		data := bus.job(t, "a1", "a1", time.Minute, changeJob("j-replay", "replay", cur, next))
		bus.send(t, "a1", data)
		bus.send(t, "a1", data)
		waitFor(t, "three events", func() bool { return len(bus.eventsOf("j-replay")) == 3 })
		got := bus.kinds("j-replay")
		slices.Sort(got)
		want := []string{"accepted/", "refused/already_run", "result/"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("events (-got +want):\n%s", diff)
		}
		if n := drv.callsOf("replay"); n != 2 {
			t.Errorf("driver calls = %d, want 2", n)
		}
	})

	t.Run("a batch runs each fresh job once and refuses the rest", func(t *testing.T) {
		var ps []*wire.Payload
		var ttls []time.Duration
		add := func(id string, ttl time.Duration) string {
			account := "batch-" + id
			cur := value(account + "-cur")
			drv.set(account, cur)
			ps = append(ps, changeJob(id, account, cur, value(account+"-new")))
			ttls = append(ttls, ttl)
			return account
		}
		add("j-b1", time.Minute)
		add("j-b2", time.Minute)
		late := add("j-b-late", -time.Second)
		// A job the agent ran before, in a new batch.
		ps = append(ps, changeJob("j-change", "root", "x", "y"))
		ttls = append(ttls, time.Minute)
		bus.send(t, "a1", bus.batch(t, "a1", "a1", ttls, ps...))
		for _, id := range []string{"j-b1", "j-b2"} {
			bus.waitEvent(t, id, 1, wire.EventAccepted)
			if res := bus.waitEvent(t, id, 2, wire.EventResult); !res.OK {
				t.Errorf("%s: result %s", id, res.Reason)
			}
			if drv.callsOf("batch-"+id) != 2 {
				t.Errorf("%s: driver calls %d, want 2", id, drv.callsOf("batch-"+id))
			}
		}
		if ev := bus.waitEvent(t, "j-b-late", 1, wire.EventRefused); ev.Reason != ReasonDeadlinePassed {
			t.Errorf("late job: reason %s", ev.Reason)
		}
		if ev := bus.waitEvent(t, "j-change", 3, wire.EventRefused); ev.Reason != ReasonAlreadyRun {
			t.Errorf("job run before: reason %s", ev.Reason)
		}
		if n := drv.callsOf(late); n != 0 {
			t.Errorf("the driver ran %d times for the late job", n)
		}
	})

	t.Run("late jobs are refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ttl  time.Duration
		}{
			{"deadline past", -time.Second},
			{"deadline inside the margin", 100 * time.Millisecond},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "j-late-" + strings.ReplaceAll(tc.name, " ", "-")
				p := changeJob(id, "late", value("late-cur"), value("late-new"))
				bus.send(t, "a1", bus.job(t, "a1", "a1", tc.ttl, p))
				ev := bus.waitEvent(t, id, 1, wire.EventRefused)
				if ev.Reason != ReasonDeadlinePassed {
					t.Errorf("reason = %s, want %s", ev.Reason, ReasonDeadlinePassed)
				}
			})
		}
		if n := drv.callsOf("late"); n != 0 {
			t.Errorf("the driver ran %d times for late jobs", n)
		}
	})

	t.Run("a job sealed to another agent's key is refused", func(t *testing.T) {
		p := changeJob("j-seal", "seal", value("seal-cur"), value("seal-new"))
		bus.send(t, "a1", bus.job(t, "a1", "a2", time.Minute, p))
		bus.waitEvent(t, "j-seal", 1, wire.EventAccepted)
		if ev := bus.waitEvent(t, "j-seal", 2, wire.EventRefused); ev.Reason != ReasonBadSeal {
			t.Errorf("reason = %s, want %s", ev.Reason, ReasonBadSeal)
		}
		if n := drv.callsOf("seal"); n != 0 {
			t.Errorf("the driver ran %d times", n)
		}
	})

	t.Run("a job addressed to another agent is dropped", func(t *testing.T) {
		before := bus.consumerInfo(t, "a1").Delivered.Consumer
		p := changeJob("j-other", "other", value("other-cur"), value("other-new"))
		bus.send(t, "a1", bus.job(t, "a2", "a2", time.Minute, p))
		waitFor(t, "the job to be settled", func() bool {
			info := bus.consumerInfo(t, "a1")
			settled := info.NumAckPending == 0 && info.NumPending == 0
			return info.Delivered.Consumer > before && settled
		})
		if got := bus.kinds("j-other"); len(got) != 0 || drv.callsOf("other") != 0 {
			t.Errorf("events %v, driver calls %d; want none", got, drv.callsOf("other"))
		}
	})

	t.Run("failed change", func(t *testing.T) {
		drv.set("wrong", value("wrong-actual"))
		p := changeJob("j-fail", "wrong", value("wrong-guess"), value("wrong-new"))
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
		res := bus.waitEvent(t, "j-fail", 2, wire.EventResult)
		if res.OK || res.Reason != string(sdk.ReasonAuthFailed) || len(res.Checks) != 0 {
			t.Errorf("result OK=%v reason=%s checks=%v, want a failure for auth_failed",
				res.OK, res.Reason, res.Checks)
		}
	})

	t.Run("change applied but the new credential does not log in", func(t *testing.T) {
		cur := value("nologin-cur")
		drv.set("nologin", cur)
		p := changeJob("j-nologin", "nologin", cur, value("nologin-new"))
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
		res := bus.waitEvent(t, "j-nologin", 2, wire.EventResult)
		if res.OK || len(res.Checks) != 1 || res.Checks[0].Reason != string(sdk.ReasonAuthFailed) {
			t.Errorf("result OK=%v checks=%+v, want one failed login", res.OK, res.Checks)
		}
	})

	t.Run("check tries every candidate", func(t *testing.T) {
		v1, v2, v3 := value("chk-1"), value("chk-2"), value("chk-3")
		drv.set("chk", v2)
		p := &wire.Payload{JobID: "j-check", Op: wire.OpCheck, Driver: "fake", Account: "chk",
			Type: sdk.Password, Candidates: []wire.Candidate{
				{Version: 1, Value: []byte(v1)},
				{Version: 2, Value: []byte(v2)},
				{Version: 3, Value: []byte(v3)},
			}}
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
		res := bus.waitEvent(t, "j-check", 2, wire.EventResult)
		for i := range res.Checks {
			res.Checks[i].Message = ""
		}
		want := []wire.CheckOutcome{
			{Version: 1, Reason: "auth_failed"},
			{Version: 2, OK: true},
			{Version: 3, Reason: "auth_failed"},
		}
		if diff := cmp.Diff(res.Checks, want); diff != "" || !res.OK {
			t.Errorf("OK = %v; checks (-got +want):\n%s", res.OK, diff)
		}
	})

	t.Run("a job sealed by anyone but the server is dropped unanswered", func(t *testing.T) {
		_, forger, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		cur := value("forged-cur")
		drv.set("forged", cur)
		forged := changeJob("j-forged", "forged", cur, value("forged-new"))
		for _, how := range []string{"queued", "offered"} {
			data := bus.sealedBy(t, forger, "a1", "a1", []time.Duration{time.Minute}, forged)
			if how == "offered" {
				bus.offer(t, "a1", data)
			} else {
				bus.send(t, "a1", data)
			}
			waitFor(t, "the "+how+" forgery to be dropped", func() bool {
				return strings.Count(ag.logs.String(), "reason=not_sealed_by_server") ==
					map[string]int{"queued": 1, "offered": 2}[how]
			})
		}
		// The server's own job of that id still runs: the forgeries
		// neither started it nor took its id.
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob("j-forged", "forged",
			cur, value("forged-real"))))
		if res := bus.waitEvent(t, "j-forged", 2, wire.EventResult); !res.OK {
			t.Fatalf("the server's job: result reason %s", res.Reason)
		}
		if got := bus.kinds("j-forged"); len(got) != 2 {
			t.Errorf("events %v, want the real job's accepted and result alone", got)
		}
		if drv.value("forged") != value("forged-real") {
			t.Error("the target does not hold the server's value")
		}
	})

	t.Run("jobs the agent cannot run are refused", func(t *testing.T) {
		for _, tc := range []struct {
			name, jobID string
			mod         func(*wire.Payload)
			want        string
		}{
			{"unknown driver", "j-nodriver",
				func(p *wire.Payload) { p.Driver = "nope" }, ReasonNoDriver},
			{"unknown op", "j-badop",
				func(p *wire.Payload) { p.Op = "explode" }, ReasonBadJob},
			{"change without a value", "j-nonew",
				func(p *wire.Payload) { p.New = nil }, ReasonBadJob},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := changeJob(tc.jobID, "cannot", value("cannot-cur"), value("cannot-new"))
				tc.mod(p)
				bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
				// The server records the start as the payload opens, and
				// the refusal ends the job at once.
				bus.waitEvent(t, tc.jobID, 1, wire.EventAccepted)
				if ev := bus.waitEvent(t, tc.jobID, 2, wire.EventRefused); ev.Reason != tc.want {
					t.Errorf("reason = %s, want %s", ev.Reason, tc.want)
				}
			})
		}
		if n := drv.callsOf("cannot"); n != 0 {
			t.Errorf("the driver ran %d times", n)
		}
	})

	t.Run("a job it cannot run and the server did not start is not answered for", func(t *testing.T) {
		// A refusal would end the job, which the server has started by
		// an earlier delivery.
		bus.mu.Lock()
		bus.started["j-started-nodriver"] = true
		bus.mu.Unlock()
		p := changeJob("j-started-nodriver", "cannot", value("cannot-cur"), value("cannot-new"))
		p.Driver = "nope"
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, p))
		bus.waitEvent(t, "j-started-nodriver", 1, wire.EventAccepted)
		waitFor(t, "the message to be settled", func() bool {
			ci := bus.consumerInfo(t, "a1")
			return ci.NumAckPending == 0 && ci.NumPending == 0
		})
		if got := bus.kinds("j-started-nodriver"); len(got) != 1 {
			t.Errorf("events %v, want the accepted one alone", got)
		}
	})

	t.Run("a job still running at its deadline times out", func(t *testing.T) {
		p := changeJob("j-slow", "slow", value("slow-cur"), value("slow-new"))
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Second, p))
		res := bus.waitEvent(t, "j-slow", 2, wire.EventResult)
		if res.OK || res.Reason != ReasonTimeout {
			t.Errorf("result OK=%v reason=%s, want timeout", res.OK, res.Reason)
		}
	})

	t.Run("heartbeats verify", func(t *testing.T) {
		waitFor(t, "two heartbeats", func() bool { return len(bus.beatsOf("a1")) >= 2 })
		hb := bus.beatsOf("a1")[0]
		if hb.Version != "1.2.3" || !slices.Equal(hb.Drivers, []string{"fake"}) {
			t.Errorf("heartbeat version %q drivers %v", hb.Version, hb.Drivers)
		}
	})

	t.Run("no secret in logs or events", func(t *testing.T) {
		logs := ag.logs.String()
		events := string(slices.Concat(bus.rawEventsCopy()...))
		for _, s := range secrets {
			if strings.Contains(logs, s) || strings.Contains(events, s) {
				t.Errorf("a credential value leaked into the logs or events")
			}
		}
		if !strings.Contains(logs, `job_id=j-change`) {
			t.Errorf("the logs do not mention the jobs:\n%s", logs)
		}
	})
}

// beatsOf returns the heartbeats of an agent so far.
func (b *testBus) beatsOf(agentID string) []*wire.Heartbeat {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*wire.Heartbeat
	for _, hb := range b.beats {
		if hb.AgentID == agentID {
			out = append(out, hb)
		}
	}
	return out
}

// rawEventsCopy returns every event as it travelled.
func (b *testBus) rawEventsCopy() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.rawEvent)
}

func TestRestartKeepsJournal(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	drv := newFakeDriver()
	cur, next := secretValue("cur"), secretValue("new")
	drv.set("root", cur)
	data := bus.job(t, "a1", "a1", time.Minute, changeJob("j-1", "root", cur, next))

	first := startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	bus.send(t, "a1", data)
	bus.waitEvent(t, "j-1", 2, wire.EventResult)
	first.stop()

	startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	bus.send(t, "a1", data)
	if ev := bus.waitEvent(t, "j-1", 3, wire.EventRefused); ev.Reason != ReasonAlreadyRun {
		t.Errorf("reason = %s, want %s", ev.Reason, ReasonAlreadyRun)
	}
	if n := drv.callsOf("root"); n != 2 {
		t.Errorf("driver calls = %d, want 2", n)
	}
}

func TestMaxInFlight(t *testing.T) {
	for _, prepares := range []bool{false, true} {
		t.Run(fmt.Sprintf("prepares %v", prepares), func(t *testing.T) {
			bus := newTestBus(t)
			dir := bus.enrollAgent(t, "a1")
			drv := newFakeDriver()
			drv.delay = 50 * time.Millisecond
			var d sdk.Driver = drv
			if prepares {
				d = &preparingFake{fakeDriver: drv}
			}
			startAgent(t, dir, fakeDrivers{"fake": d}, func(c *Config) { c.MaxInFlight = 2 })
			var ids []string
			for i := range 6 {
				id := "j-" + string(rune('a'+i))
				ids = append(ids, id)
				account := "acct-" + id
				drv.set(account, "old")
				bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute,
					changeJob(id, account, "old", "new")))
			}
			for _, id := range ids {
				if ev := bus.waitEvent(t, id, 2, wire.EventResult); !ev.OK {
					t.Errorf("%s: reason %s", id, ev.Reason)
				}
			}
			drv.mu.Lock()
			defer drv.mu.Unlock()
			if drv.maxRunning != 2 {
				t.Errorf("at most %d driver calls ran at once, want 2", drv.maxRunning)
			}
		})
	}
}

// startPreparing starts agent a1 with one driver, fake, which prepares
// its changes as drv.
func startPreparing(t *testing.T) (*testBus, *fakeDriver, *preparingFake) {
	t.Helper()
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	fake := newFakeDriver()
	drv := &preparingFake{fakeDriver: fake}
	startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	return bus, fake, drv
}

// TestPreparedChanges checks the changes a driver gets ready while the
// server records their start: one started is made, one the server does
// not start is dropped unmade, and one that cannot be prepared fails as
// its driver said, the target untouched.
func TestPreparedChanges(t *testing.T) {
	bus, fake, drv := startPreparing(t)

	t.Run("a started change is made", func(t *testing.T) {
		fake.set("made", "cur")
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob("j-made", "made", "cur", "next")))
		if ev := bus.waitEvent(t, "j-made", 2, wire.EventResult); !ev.OK {
			t.Fatalf("result reason %s", ev.Reason)
		}
		if fake.value("made") != "next" || drv.prepared.Load() != 1 || drv.dropped.Load() != 0 {
			t.Errorf("target holds the new value: %v; prepared %d, dropped %d",
				fake.value("made") == "next", drv.prepared.Load(), drv.dropped.Load())
		}
	})

	t.Run("a change the server does not start is dropped unmade", func(t *testing.T) {
		fake.set("dropped", "cur")
		bus.mu.Lock()
		bus.started["j-dropped"] = true
		bus.mu.Unlock()
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute,
			changeJob("j-dropped", "dropped", "cur", "next")))
		waitFor(t, "the prepared change to be dropped", func() bool { return drv.dropped.Load() == 1 })
		waitFor(t, "the message to be settled", func() bool {
			ci := bus.consumerInfo(t, "a1")
			return ci.NumAckPending == 0 && ci.NumPending == 0
		})
		if fake.value("dropped") != "cur" || fake.callsOf("dropped") != 1 {
			t.Errorf("the target changed: %v; driver calls %d, want the one login of Prepare",
				fake.value("dropped") != "cur", fake.callsOf("dropped"))
		}
		if evs := bus.eventsOf("j-dropped"); len(evs) != 1 {
			t.Errorf("events %v, want the accepted one alone", bus.kinds("j-dropped"))
		}
	})

	t.Run("a change that cannot be prepared fails", func(t *testing.T) {
		fake.set("wrong", "other")
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob("j-wrong", "wrong", "cur", "next")))
		ev := bus.waitEvent(t, "j-wrong", 2, wire.EventResult)
		if ev.OK || ev.Reason != string(sdk.ReasonAuthFailed) {
			t.Errorf("result OK=%v reason %s, want auth_failed", ev.OK, ev.Reason)
		}
		if fake.value("wrong") != "other" || fake.callsOf("wrong") != 1 {
			t.Errorf("the target changed: %v; driver calls %d, want the one login of Prepare",
				fake.value("wrong") != "other", fake.callsOf("wrong"))
		}
	})
}

// TestStartRequests checks the request that the server record jobs as
// started: one that gets no answer is sent again, and the job runs once
// the server answers; one never answered before the job's deadline runs
// nothing, drops the change its driver got ready, and tells the server
// that the job did not start.
func TestStartRequests(t *testing.T) {
	bus, fake, drv := startPreparing(t)

	t.Run("sent again until answered", func(t *testing.T) {
		fake.set("again", "cur")
		bus.dropAccepts(1)
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob("j-again", "again", "cur", "next")))
		if ev := bus.waitEvent(t, "j-again", 2, wire.EventResult); !ev.OK {
			t.Fatalf("result reason %s", ev.Reason)
		}
		if fake.value("again") != "next" {
			t.Error("the target does not hold the new value")
		}
	})

	t.Run("never answered", func(t *testing.T) {
		fake.set("silent", "cur")
		bus.dropAccepts(1000)
		defer bus.dropAccepts(0)
		dropped := drv.dropped.Load()
		bus.send(t, "a1", bus.job(t, "a1", "a1", 2*time.Second,
			changeJob("j-silent", "silent", "cur", "next")))
		ev := bus.waitEvent(t, "j-silent", 1, wire.EventRefused)
		if ev.Reason != ReasonNotStarted {
			t.Errorf("refused: reason %s, want %s", ev.Reason, ReasonNotStarted)
		}
		if fake.value("silent") != "cur" || drv.dropped.Load() != dropped+1 {
			t.Errorf("the target changed: %v; prepared changes dropped: %d, want %d",
				fake.value("silent") != "cur", drv.dropped.Load(), dropped+1)
		}
	})
}

// TestStopHandsBackWaitingJobs stops an agent while every slot is busy and
// one more job waits for it. The running jobs end first; the waiting one
// is left in JetStream unrun and unsettled by this agent, whether it never
// left the queue or waited in the pull's buffer and was handed back, so
// the next run takes it at once rather than after the ack wait of a
// minute.
func TestStopHandsBackWaitingJobs(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	drv := newFakeDriver()
	drv.delay = time.Second
	first := startAgent(t, dir, fakeDrivers{"fake": drv}, func(c *Config) { c.MaxInFlight = 2 })
	send := func(id string) {
		drv.set("acct-"+id, "old")
		bus.send(t, "a1", bus.job(t, "a1", "a1", time.Minute, changeJob(id, "acct-"+id, "old", "new")))
	}
	send("j-run-1")
	bus.waitEvent(t, "j-run-1", 1, wire.EventAccepted)
	send("j-run-2")
	bus.waitEvent(t, "j-run-2", 1, wire.EventAccepted)
	send("j-waiting")
	waitFor(t, "the third job in the agent's queue", func() bool {
		info := bus.consumerInfo(t, "a1")
		return uint64(info.NumAckPending)+info.NumPending == 3
	})
	first.stop()
	// The agent is gone: a result that arrives now was published before
	// it stopped, and reaches the bus's consumer a moment later.
	for _, id := range []string{"j-run-1", "j-run-2"} {
		waitFor(t, "accepted and result of "+id+", published before the stop", func() bool {
			return len(bus.kinds(id)) == 2
		})
	}
	if got := bus.kinds("j-waiting"); len(got) != 0 || drv.callsOf("acct-j-waiting") != 0 {
		t.Fatalf("the waiting job ran before the stop: events %v", got)
	}
	waitFor(t, "nothing unsettled and one job waiting after the stop", func() bool {
		info := bus.consumerInfo(t, "a1")
		return info.NumAckPending == 0 && info.NumPending == 1
	})
	startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	if res := bus.waitEvent(t, "j-waiting", 2, wire.EventResult); !res.OK {
		t.Errorf("the handed-back job failed: %s", res.Reason)
	}
}

// TestOffersNotTaken checks that an agent with no free slot, or stopped,
// does not take the jobs the server offers it, and that it runs them once
// they come through its queue.
func TestOffersNotTaken(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	drv := newFakeDriver()
	ag := startAgent(t, dir, fakeDrivers{"fake": drv}, func(c *Config) { c.MaxInFlight = 1 })
	job := func(id string) []byte {
		drv.set("acct-"+id, "old")
		return bus.job(t, "a1", "a1", time.Minute, changeJob(id, "acct-"+id, "old", "new"))
	}
	// A job that runs until its deadline holds the one slot.
	drv.set("slow-hold", "old")
	bus.send(t, "a1", bus.job(t, "a1", "a1", 2*time.Second,
		changeJob("j-hold", "slow-hold", "old", "new")))
	bus.waitEvent(t, "j-hold", 1, wire.EventAccepted)
	busy := job("j-busy")
	if bus.offer(t, "a1", busy) {
		t.Fatal("an agent with no free slot took an offer")
	}
	bus.send(t, "a1", busy)
	if res := bus.waitEvent(t, "j-busy", 2, wire.EventResult); !res.OK {
		t.Errorf("queued job: result reason %s", res.Reason)
	}

	ag.stop()
	stopped := job("j-stopped")
	msg, err := bus.nc.Request(wire.OfferSubject("a1"), stopped, time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("offer to a stopped agent: answer %v, error %v; want no responders", msg, err)
	}
	bus.send(t, "a1", stopped)
	startAgent(t, dir, fakeDrivers{"fake": drv}, nil)
	if res := bus.waitEvent(t, "j-stopped", 2, wire.EventResult); !res.OK {
		t.Errorf("job queued while stopped: result reason %s", res.Reason)
	}
	if n := drv.callsOf("acct-j-busy") + drv.callsOf("acct-j-stopped"); n != 4 {
		t.Errorf("driver calls = %d, want 2 for each job", n)
	}
}

func TestRunRefuses(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	drivers := fakeDrivers{"fake": newFakeDriver()}
	startAgent(t, dir, drivers, nil)
	// A heartbeat shows that the agent holds its data directory.
	waitFor(t, "a heartbeat", func() bool { return len(bus.beatsOf("a1")) > 0 })
	// An agent enrolled before its server signed jobs has no jobs key.
	old := bus.enrollAgent(t, "a-old")
	withoutJobsKey(t, old)
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no data directory", Config{Drivers: drivers}, ErrNoDataDir},
		{"no drivers", Config{DataDir: dir}, ErrNoDrivers},
		{"not enrolled", Config{DataDir: t.TempDir(), Drivers: drivers}, ErrNotEnrolled},
		{"data directory in use", Config{DataDir: dir, Drivers: drivers}, ErrDataDirInUse},
		{"enrolled before jobs were signed", Config{DataDir: old, Drivers: drivers},
			ErrNoJobsKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := Run(ctx, tc.cfg); !errors.Is(err, tc.want) {
				t.Errorf("Run = %v, want %v", err, tc.want)
			}
		})
	}
}

// withoutJobsKey drops the jobs key from the enrollment in dir.
func withoutJobsKey(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, enrollmentFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	delete(e, "jobs_key")
	if b, err = json.Marshal(e); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, publicMode); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	got := (&Config{}).EnsureDefaults()
	if got.HeartbeatEvery != DefaultHeartbeatEvery || got.MaxInFlight != DefaultMaxInFlight ||
		got.DeadlineMargin != DefaultDeadlineMargin || got.Logger == nil {
		t.Errorf("defaults not set: %+v", got)
	}
	set := &Config{HeartbeatEvery: time.Second, MaxInFlight: 3, DeadlineMargin: time.Minute}
	set.EnsureDefaults()
	if set.HeartbeatEvery != time.Second || set.MaxInFlight != 3 ||
		set.DeadlineMargin != time.Minute {
		t.Errorf("set values overwritten: %+v", set)
	}
}

func TestPermissions(t *testing.T) {
	bus := newTestBus(t)
	dir := bus.enrollAgent(t, "a1")
	bus.enrollAgent(t, "a2")
	id, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	subscribe := func(subject string) func(*nats.Conn) error {
		return func(nc *nats.Conn) error {
			_, err := nc.SubscribeSync(subject)
			return err
		}
	}
	publish := func(subject string) func(*nats.Conn) error {
		return func(nc *nats.Conn) error { return nc.Publish(subject, []byte("{}")) }
	}
	cases := []struct {
		name    string
		subject string
		try     func(*nats.Conn) error
	}{
		{"subscribe to another agent's jobs", wire.JobSubject("a2"), nil},
		{"subscribe to its own job subject", wire.JobSubject("a1"), nil},
		{"subscribe to another agent's inbox", wire.InboxPrefix("a2") + ".x", nil},
		{"subscribe to the default inbox", "_INBOX.x", nil},
		{"publish on another agent's event subject", wire.EventSubject("a2"),
			publish(wire.EventSubject("a2"))},
		{"publish another agent's heartbeat", wire.HeartbeatSubject("a2"),
			publish(wire.HeartbeatSubject("a2"))},
		{"publish a job", wire.JobSubject("a1"), publish(wire.JobSubject("a1"))},
		{"pull another agent's jobs", "$JS.API.CONSUMER.MSG.NEXT.PASSMAN_JOBS.agent-a2",
			publish("$JS.API.CONSUMER.MSG.NEXT.PASSMAN_JOBS.agent-a2")},
		{"create a consumer", "$JS.API.CONSUMER.CREATE.PASSMAN_JOBS",
			publish("$JS.API.CONSUMER.CREATE.PASSMAN_JOBS")},
		{"delete its consumer", "$JS.API.CONSUMER.DELETE.PASSMAN_JOBS.agent-a1",
			publish("$JS.API.CONSUMER.DELETE.PASSMAN_JOBS.agent-a1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, errs := connectAs(t, bus, id)
			try := tc.try
			if try == nil {
				try = subscribe(tc.subject)
			}
			if err := try(nc); err != nil {
				t.Fatalf("client refused before sending: %v", err)
			}
			waitViolation(t, errs, tc.subject)
		})
	}

	t.Run("its own consumer is reachable", func(t *testing.T) {
		nc, _ := connectAs(t, bus, id)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.Consumer(ctx, wire.JobStream, wire.ConsumerName("a1")); err != nil {
			t.Errorf("reading its own consumer: %v", err)
		}
	})
}

// connectAs connects to the test bus with an agent's credentials and
// returns the asynchronous errors NATS reports.
func connectAs(t *testing.T, bus *testBus, id *identity) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := nats.Connect(bus.url,
		nats.Secure(id.tls),
		nats.Nkey(id.nkeyPub, id.nkey.Sign),
		nats.CustomInboxPrefix(wire.InboxPrefix(id.info.AgentID)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}),
	)
	if err != nil {
		t.Fatalf("connecting as the agent: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// waitViolation waits for NATS to report a permissions violation on
// subject.
func waitViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			denied := errors.Is(err, nats.ErrPermissionViolation)
			if denied && strings.Contains(err.Error(), subject) {
				return
			}
			t.Logf("other error: %v", err)
		case <-timeout:
			t.Fatalf("no permissions violation for %s", subject)
		}
	}
}
