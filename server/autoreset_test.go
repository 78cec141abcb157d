package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/service"
)

// clock is a settable time source for the service.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pendingJob(t *testing.T, s *testserver.Server) *model.Job {
	t.Helper()
	a := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root"))
	id := a.Credentials[0].PendingJob
	if id == "" {
		return nil
	}
	return must[*model.Job](t)(s.Admin.ShowJob(id))
}

func TestCheckinStartsAutoReset(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	must[*api.CheckoutResponse](t)(s.Admin.Checkout(&api.CheckoutRequest{Path: "f/web/root",
		Type: model.Password, ForSeconds: 600}))
	must[*api.Account](t)(s.Admin.Checkin(&api.CheckinRequest{Path: "f/web/root"}))
	j := pendingJob(t, s)
	if j == nil || j.Kind != model.JobAutoReset || j.State != model.JobWaitingAgent || !j.ChangeOnTarget {
		t.Fatalf("pending job after checkin = %+v, want an AutoReset waiting for an agent", j)
	}
}

func TestExpiredCheckoutStartsAutoReset(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	s := testserver.StartWith(t, testserver.Config{Service: service.Options{Now: clk.now,
		Tick: 50 * time.Millisecond}})
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	must[*api.CheckoutResponse](t)(s.Admin.Checkout(&api.CheckoutRequest{Path: "f/web/root",
		Type: model.Password, ForSeconds: 60}))
	if pendingJob(t, s) != nil {
		t.Fatal("a job started before the checkout ended")
	}
	clk.advance(2 * time.Minute)
	waitFor(t, "the AutoReset of the expired checkout", func() bool {
		j := pendingJob(t, s)
		return j != nil && j.Kind == model.JobAutoReset
	})
	a := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root"))
	if a.Credentials[0].Checkout != nil {
		t.Errorf("checkout still recorded after it expired: %+v", a.Credentials[0].Checkout)
	}
}

func TestChangeWithoutAgentFailsAtDeadline(t *testing.T) {
	t.Parallel()
	s := testserver.StartWith(t, testserver.Config{Service: service.Options{JobDeadline: time.Second,
		Tick: 50 * time.Millisecond, Grace: 100 * time.Millisecond}})
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	r := must[*api.JobResponse](t)(s.Admin.Reset(&api.ResetRequest{Path: "f/web/root",
		Type: model.Password, Generate: true}))
	var j *model.Job
	waitFor(t, "the job to fail", func() bool {
		j = must[*model.Job](t)(s.Admin.ShowJob(r.Job.ID))
		return j.State.Final()
	})
	if j.State != model.JobFailed || j.Reason != "no_agent" {
		t.Fatalf("job = %s %s %q, want failed no_agent", j.State, j.Reason, j.Outcome)
	}
	a := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root"))
	cr := a.Credentials[0]
	if cr.Pending != 0 || cr.Version != 1 || cr.Status != model.Unknown {
		t.Errorf("credential after no_agent = %+v, want version 1, nothing pending, Unknown as before", cr)
	}
}
