package e2e

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/service"
)

const (
	appPath  = "apps/web/db"
	initialV = "Initial-Passw0rd!abcdefgh"
)

func sec(s string) api.Secret { return api.NewSecret(secret.FromString(s)) }

// fileTarget creates a config file holding initialV and the target and
// account that manage it, and returns the file's path.
func (e *env) fileTarget(zone string) string {
	e.t.Helper()
	file := filepath.Join(e.t.TempDir(), "app.env")
	if err := os.WriteFile(file, []byte("# app\nDB_USER=app\nDB_PASSWORD="+initialV+"\n"), 0o640); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.passman("", "folder", "create", "apps"); err != nil {
		e.t.Fatal(err)
	}
	_, err := e.passman("", "target", "create", "apps/web", "--type", "file", "--address", "localhost",
		"--zone", zone, "--param", "path="+file, "--param", "key=DB_PASSWORD")
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.passman(initialV+"\n", "account", "create", appPath, "--credential", "password",
		"--value-stdin")
	if err != nil {
		e.t.Fatal(err)
	}
	return file
}

// fileHolds reports whether the config file holds value as DB_PASSWORD.
func fileHolds(t *testing.T, file, value string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "DB_PASSWORD="); ok {
			return strings.Trim(v, `"`) == value
		}
	}
	return false
}

func TestFileResetCheckAndWrongCurrent(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file := e.fileTarget("dc1")
	ag := e.startAgent(e.enroll("dc1"), nil)

	// Reset on the target with a generated value, through the CLI.
	out, err := e.passman("", "account", "reset", appPath, "--type", "password", "--generate", "--wait")
	if err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("reset --wait: %v\n%s", err, out)
	}
	a := e.waitSettled(appPath)
	newV := e.checkout(appPath, model.Password)
	if a.Status != model.InSync || !fileHolds(t, file, newV) || newV == initialV {
		t.Fatalf("after reset: status %s, file holds new value %v", a.Status, fileHolds(t, file, newV))
	}

	// A check proves it again; a database-only change to a wrong value
	// makes the next check fail, and an update to the right one heals it.
	if _, err := e.passman("", "account", "check", appPath, "--wait"); err != nil {
		t.Fatal(err)
	}
	const wrongV = "Wrong-Passw0rd!abcdefghij"
	_, err = e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Value: sec(wrongV),
		DatabaseOnly: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, e, model.NotInSync, "auth_failed")
	_, err = e.c.Update(&api.UpdateRequest{Path: appPath, Type: model.Password, Value: sec(newV)})
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, e, model.InSync, "")

	// With a wrong stored current value, a change fails and changes
	// nothing: the file keeps its value and every version is kept.
	_, err = e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Value: sec(wrongV),
		DatabaseOnly: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true,
		WaitSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if j := r.Job; j.State != model.JobFailed || j.Reason != "auth_failed" {
		t.Errorf("reset with a wrong current value answered %s %s %q", j.State, j.Reason, j.Outcome)
	}
	// The driver said auth_failed, but only a check proves what the target
	// holds: the answer shows the credential Unknown, with the job that
	// settles it.
	if cr := r.Account.Credentials[0]; cr.Status != model.Unknown || cr.PendingJob == "" {
		t.Errorf("the answer shows the credential %s, settled by %q; want Unknown and a job",
			cr.Status, cr.PendingJob)
	}
	a = e.waitSettled(appPath)
	cr := a.Credentials[0]
	if cr.Status != model.NotInSync || cr.Reason != "auth_failed" || cr.Pending != 0 {
		t.Errorf("credential = %+v, want NotInSync auth_failed with nothing pending", cr)
	}
	if !fileHolds(t, file, newV) {
		t.Error("a failed change altered the file")
	}
	revs, err := e.c.Revisions(appPath, model.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(revs.Revisions); got != 6 {
		t.Errorf("%d revisions, want 6: no version may be lost", got)
	}
	e.noSecrets([]*agentProc{ag}, initialV, newV, wrongV)
}

// TestResetWaitAnswersWithTheOutcome asks a reset to wait for its job:
// the one answer holds the job's end and the account as it left it, or,
// when no agent takes the job within the wait, the job still waiting.
func TestResetWaitAnswersWithTheOutcome(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file := e.fileTarget("dc1")
	ag := e.startAgent(e.enroll("dc1"), nil)

	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true,
		WaitSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if r.Job.State != model.JobSucceeded || r.Account.Status != model.InSync {
		t.Fatalf("answer: job %s %q, account %s; want succeeded and InSync",
			r.Job.State, r.Job.Outcome, r.Account.Status)
	}
	newV := e.checkout(appPath, model.Password)
	if !fileHolds(t, file, newV) || r.Account.Credentials[0].Version != r.Job.Version {
		t.Errorf("the file holds the new value: %v; current version %d, job's version %d",
			fileHolds(t, file, newV), r.Account.Credentials[0].Version, r.Job.Version)
	}

	ag.stop()
	r, err = e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true,
		WaitSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Job.State != model.JobWaitingAgent || r.Account.Status != model.Changing {
		t.Errorf("answer with no agent: job %s, account %s; want waiting_agent and Changing",
			r.Job.State, r.Account.Status)
	}
	e.noSecrets([]*agentProc{ag}, initialV, newV)
}

// checkOnce runs Check Credentials on appPath and waits for the status.
func checkOnce(t *testing.T, e *env, status model.SyncStatus, reason string) {
	t.Helper()
	res, err := e.c.Check(&api.CheckRequest{Paths: []string{appPath}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 {
		t.Fatalf("check started %d jobs, want 1", len(res.Jobs))
	}
	e.waitJob(res.Jobs[0].ID)
	a, err := e.c.ShowAccount(appPath)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != status || a.Credentials[0].Reason != reason {
		t.Fatalf("after check: %s %q, want %s %q", a.Status, a.Credentials[0].Reason, status, reason)
	}
}

func TestAgentDownDuringReset(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file := e.fileTarget("dc1")
	dir := e.enroll("dc1")
	ag := e.startAgent(dir, nil)
	ag.stop()

	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the job sits in the stopped agent's queue
	if j, _ := e.c.ShowJob(r.Job.ID); j.State != model.JobWaitingAgent || j.AgentID == "" {
		t.Fatalf("job = %s agent %q, want waiting in an agent's queue", j.State, j.AgentID)
	}
	if !fileHolds(t, file, initialV) {
		t.Fatal("the file changed with no agent running")
	}
	e.startAgent(dir, nil)
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("job after the agent returned: %s %s %q", j.State, j.Reason, j.Outcome)
	}
	if v := e.checkout(appPath, model.Password); !fileHolds(t, file, v) {
		t.Error("the file does not hold the value PassMan calls current")
	}
}

// TestJobOfALostAgentIsSentAgain has an agent take a job when offered and
// vanish before it records it, as an agent killed at that moment would:
// the job is sent again and runs once the agent is back.
func TestJobOfALostAgentIsSentAgain(t *testing.T) {
	e := newEnv(t, testserver.Config{Service: service.Options{Resend: time.Second,
		Tick: 100 * time.Millisecond}})
	file := e.fileTarget("dc1")
	dir := e.enroll("dc1")
	e.startAgent(dir, nil).stop()
	keys, _ := agentSecrets(t, dir)

	// What takes the offer in the agent's place answers and does nothing.
	nc := e.serverNATS(t)
	var offers atomic.Int32
	sub, err := nc.Subscribe(wire.OfferSubject(keys.AgentID), func(m *nats.Msg) {
		offers.Add(1)
		_ = m.Respond([]byte(`{"taken":true}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to be offered", func() bool { return offers.Load() > 0 })
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if j, _ := e.c.ShowJob(r.Job.ID); j.State != model.JobWaitingAgent {
		t.Fatalf("job taken and lost = %s, want waiting for its agent", j.State)
	}

	e.startAgent(dir, nil)
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("job once the agent is back: %s %s %q", j.State, j.Reason, j.Outcome)
	}
	if v := e.checkout(appPath, model.Password); !fileHolds(t, file, v) {
		t.Error("the file does not hold the value PassMan calls current")
	}
}

func TestNoAgentBeforeDeadline(t *testing.T) {
	e := newEnv(t, testserver.Config{Service: service.Options{JobDeadline: 3 * time.Second,
		Tick: 100 * time.Millisecond, Grace: 500 * time.Millisecond}})
	file := e.fileTarget("dc1")
	e.startAgent(e.enroll("dc1"), nil).stop()
	before, err := e.c.ShowAccount(appPath)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	j := e.waitJob(r.Job.ID)
	if j.State != model.JobFailed || j.Reason != "no_agent" || !strings.Contains(j.Outcome, "dc1") {
		t.Fatalf("job = %s %s %q, want failed no_agent naming zone dc1", j.State, j.Reason, j.Outcome)
	}
	after, err := e.c.ShowAccount(appPath)
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Credentials[0], after.Credentials[0]
	if a.Version != b.Version || a.Status != b.Status || a.Pending != 0 {
		t.Errorf("credential after no_agent = %+v, want as before: %+v", a, b)
	}
	if !fileHolds(t, file, initialV) {
		t.Error("the file changed")
	}
}

// TestStartLostInACrashIsSettledByACheck makes the state a crash can
// leave since the server answers an agent's start before the write that
// records it is durable: the agent changed the target, and the server has
// the job as never started. The test keeps a copy of the server's data
// directory from before the start, lets the agent run the job, and puts
// the copy back. Past its deadline the job must not pass for one that
// never ran: a check finds the value the file holds, and PassMan calls
// that value current.
func TestStartLostInACrashIsSettledByACheck(t *testing.T) {
	e := newEnv(t, testserver.Config{Service: service.Options{JobDeadline: 8 * time.Second,
		Tick: 100 * time.Millisecond, Grace: 500 * time.Millisecond}})
	file := e.fileTarget("dc1")
	dir := e.enroll("dc1")
	e.startAgent(dir, nil).stop()
	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := e.c.ShowJob(r.Job.ID); j.State != model.JobWaitingAgent || j.AgentID == "" {
		t.Fatalf("job = %s agent %q, want waiting for its agent", j.State, j.AgentID)
	}
	before := filepath.Join(t.TempDir(), "before")
	e.restartAfter(func() { copyDir(t, e.srv.Dir, before) })

	ag := e.startAgent(dir, nil)
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("job = %s %s %q, want succeeded", j.State, j.Reason, j.Outcome)
	}
	changed := e.checkout(appPath, model.Password)
	if !fileHolds(t, file, changed) {
		t.Fatal("the file does not hold the new value")
	}
	ag.stop()
	e.restartAfter(func() {
		if err := os.RemoveAll(e.srv.Dir); err != nil {
			t.Fatal(err)
		}
		copyDir(t, before, e.srv.Dir)
	})
	j, err := e.c.ShowJob(r.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != model.JobWaitingAgent || !j.MaybeStarted {
		t.Fatalf("job after the start was lost = %s, maybe started %v; want waiting, maybe started",
			j.State, j.MaybeStarted)
	}

	// The agent refuses the job it ran, and checks the account once the
	// job's deadline has passed.
	e.startAgent(dir, nil)
	j = e.waitJob(r.Job.ID)
	if j.State != model.JobFailed || j.Reason != "timeout" {
		t.Fatalf("job = %s %s %q, want failed: timeout, outcome unknown", j.State, j.Reason, j.Outcome)
	}
	a := e.waitSettled(appPath)
	if a.Status != model.InSync {
		t.Fatalf("account = %s %s, want InSync", a.Status, a.Credentials[0].Reason)
	}
	if v := e.checkout(appPath, model.Password); v != changed || !fileHolds(t, file, v) {
		t.Error("PassMan does not call current the value the file holds")
	}
}

// restartAfter restarts the server, running fn while it is down, and
// opens its vault again.
func (e *env) restartAfter(fn func()) {
	e.t.Helper()
	e.srv.RestartAfter(e.t, fn)
	e.srv.OpenVault(e.t)
	e.c = e.srv.Admin
}

// copyDir copies the directory src to dst, modes and all.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v: %s", src, err, out)
	}
}

func TestReplayedAndLateJobsDoNothing(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file := e.fileTarget("dc1")
	dir := e.enroll("dc1")
	ag := e.startAgent(dir, nil)
	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	e.waitJob(r.Job.ID)
	current := e.checkout(appPath, model.Password)
	keys, _ := agentSecrets(t, dir)
	nc := e.serverNATS(t)

	const evil = "Replayed-Passw0rd!abcdefg"
	cases := []struct {
		name, jobID string
		deadline    time.Time
		want        string
	}{
		{"replay of a job that ran", r.Job.ID, time.Now().Add(time.Minute), "already_run"},
		{"job past its deadline", "late-job-0001", time.Now().Add(-time.Second), "deadline_passed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := &wire.Envelope{AgentID: keys.AgentID,
				Jobs: []wire.JobHeader{{JobID: tc.jobID, Deadline: tc.deadline}}}
			p := &wire.Payload{JobID: tc.jobID, Op: wire.OpChange, Driver: "file",
				Target: wire.Target{Address: "localhost", Params: map[string]string{"path": file,
					"key": "DB_PASSWORD"}},
				Account: "db", Type: "password", Current: []byte(current), New: []byte(evil)}
			if err := env.Seal(keys.HPKEPublic(), e.jobsKey(t), p); err != nil {
				t.Fatal(err)
			}
			publishJob(t, nc, env, tc.name)
			waitFor(t, "the agent to refuse the job", func() bool {
				return strings.Contains(ag.logs.String(), tc.want)
			})
			if !fileHolds(t, file, current) {
				t.Fatal("the file changed")
			}
		})
	}
	e.noSecrets([]*agentProc{ag}, current, evil)
}

// forgery is a reset waiting for agent A, which is stopped, with what an
// attacker would hold: A's keys, those of agent B of another zone, which
// runs, a key A never enrolled, and the server's own NATS login.
type forgery struct {
	e                    *env
	file                 string
	before               []byte
	job                  *api.JobResponse
	dirA                 string
	keysA, keysB, forger *wire.Keys
	nc                   *nats.Conn
}

func newForgery(t *testing.T) *forgery {
	t.Helper()
	f := &forgery{e: newEnv(t, testserver.Config{})}
	e := f.e
	f.file = e.fileTarget("dc1")
	f.dirA = e.enroll("dc1")
	dirB := e.enroll("dc2")
	e.startAgent(f.dirA, nil).stop()
	e.startAgent(dirB, nil)
	var err error
	if f.before, err = os.ReadFile(f.file); err != nil {
		t.Fatal(err)
	}
	f.job, err = e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	f.keysA, _ = agentSecrets(t, f.dirA)
	f.keysB, _ = agentSecrets(t, dirB)
	if f.forger, err = wire.NewKeys(f.keysA.AgentID); err != nil {
		t.Fatal(err)
	}
	f.nc = e.serverNATS(t)
	return f
}

func TestForgedResultIsRejected(t *testing.T) {
	f := newForgery(t)
	e, file, r, dirA, nc := f.e, f.file, f.job, f.dirA, f.nc
	keysA, keysB, forger := f.keysA, f.keysB, f.forger
	before := e.snapshot(appPath)

	cases := []struct {
		name    string
		signer  *wire.Keys
		subject string
	}{
		{"signed by a key the agent never enrolled", forger, keysA.AgentID},
		{"signed by another agent, on its own subject", keysB, keysB.AgentID},
		{"signed by another agent, claiming to be the agent", keysB, keysA.AgentID},
	}
	ways := []struct {
		name string
		send func(*testing.T, *nats.Conn, string, *wire.Report)
	}{
		{"on the event stream", publishEvent},
		{"in a report request", requestReport},
	}
	sent := 0
	for _, way := range ways {
		for _, tc := range cases {
			t.Run(way.name+"/"+tc.name, func(t *testing.T) {
				rep := &wire.Report{Time: time.Now().UTC(),
					Events: []wire.Event{{Kind: wire.EventResult, JobID: r.Job.ID, OK: true}}}
				rep.Sign(tc.signer)
				way.send(t, nc, tc.subject, rep)
				sent++
				waitFor(t, "the forged event to be rejected", func() bool {
					return strings.Count(e.srv.Logs.String(), "agent event rejected") >= sent
				})
				if diff := cmp.Diff(e.snapshot(appPath), before); diff != "" {
					t.Fatalf("a forged result changed the account (-got +want):\n%s", diff)
				}
			})
		}
	}
	recs, err := e.c.ListAudit("", time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for _, rec := range recs.Records {
		if rec.Code == "bad_event" {
			rejected++
		}
	}
	if rejected != sent {
		t.Errorf("%d rejected events audited, want %d", rejected, sent)
	}

	// The real agent still completes the job.
	e.startAgent(dirA, nil)
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("job = %s %s", j.State, j.Outcome)
	}
	if v := e.checkout(appPath, model.Password); !fileHolds(t, file, v) {
		t.Error("the file does not hold the value PassMan calls current")
	}
}

// TestJobNotSealedByTheServerDoesNothing puts in an agent's queue what
// someone able to publish there could: the id of a real waiting job with a
// value of their own, sealed to the agent's public key, but not under a
// key the server signed. The agent drops it unanswered, and the server's
// own job of that id runs as if nothing happened.
func TestJobNotSealedByTheServerDoesNothing(t *testing.T) {
	f := newForgery(t)
	e, file, r := f.e, f.file, f.job
	_, forger, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	const evil = "Forged-Passw0rd!abcdefgh"
	env := &wire.Envelope{AgentID: f.keysA.AgentID,
		Jobs: []wire.JobHeader{{JobID: r.Job.ID, Deadline: time.Now().Add(time.Minute)}}}
	p := &wire.Payload{JobID: r.Job.ID, Op: wire.OpChange, Driver: "file",
		Target:  wire.Target{Address: "localhost", Params: map[string]string{"path": file, "key": "DB_PASSWORD"}},
		Account: "db", Type: "password", Current: []byte(initialV), New: []byte(evil)}
	if err := env.Seal(f.keysA.HPKEPublic(), forger, p); err != nil {
		t.Fatal(err)
	}
	publishJob(t, f.nc, env, "forged-"+r.Job.ID)

	a := e.startAgent(f.dirA, nil)
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("the server's job: %s %s %q", j.State, j.Reason, j.Outcome)
	}
	if !strings.Contains(a.logs.String(), "reason=not_sealed_by_server") {
		t.Error("the agent did not say it dropped the forged job")
	}
	v := e.checkout(appPath, model.Password)
	if !fileHolds(t, file, v) || fileHolds(t, file, evil) {
		t.Error("the file does not hold the value PassMan calls current")
	}
	e.noSecrets([]*agentProc{a}, v, evil)
}

// TestForgedAndReplayedAcceptsStartNothing asks the server to record a
// waiting job as started, as someone with NATS access would: with a key
// the agent never enrolled, as another agent, and with the agent's own
// keys. Only the agent's first request starts the job, and only that
// request sent again is answered the same.
func TestForgedAndReplayedAcceptsStartNothing(t *testing.T) {
	f := newForgery(t)
	e, file, r, dirA, nc := f.e, f.file, f.job, f.dirA, f.nc
	keysA, keysB, forger := f.keysA, f.keysB, f.forger
	requestFor := func(signer *wire.Keys, jobIDs ...string) []byte {
		rep := &wire.Report{Time: time.Now().UTC()}
		for _, id := range jobIDs {
			rep.Events = append(rep.Events, wire.Event{Kind: wire.EventAccepted, JobID: id})
		}
		rep.Sign(signer)
		data, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	request := func(signer *wire.Keys) []byte { return requestFor(signer, r.Job.ID) }
	first := request(keysA)
	ask := func(t *testing.T, data []byte, subject string) *wire.AcceptReply {
		t.Helper()
		msg, err := nc.Request(wire.AcceptSubject(subject), data, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		reply := new(wire.AcceptReply)
		if err := json.Unmarshal(msg.Data, reply); err != nil {
			t.Fatal(err)
		}
		return reply
	}
	state := func() model.JobState {
		j, err := e.c.ShowJob(r.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j.State
	}

	cases := []struct {
		name      string
		data      []byte
		subject   string
		refused   bool
		wantStart bool
		wantState model.JobState
	}{
		{"signed by a key the agent never enrolled", request(forger), keysA.AgentID, true, false,
			model.JobWaitingAgent},
		{"signed by another agent, claiming to be the agent", request(keysB), keysA.AgentID,
			true, false, model.JobWaitingAgent},
		{"by another agent, on its own subject", request(keysB), keysB.AgentID, false, false,
			model.JobWaitingAgent},
		// A job whose record was never written, or not durably: the
		// server lost it in a crash after handing it out.
		{"by the agent, for a job the server has no record of", requestFor(keysA, "no-such-job"),
			keysA.AgentID, false, false, model.JobWaitingAgent},
		{"by the agent", first, keysA.AgentID, false, true, model.JobRunning},
		// An agent that missed the answer asks again with the same request.
		{"the same request again", first, keysA.AgentID, false, true, model.JobRunning},
		// A request made anew is another delivery of the job, to an
		// agent that lost its journal, say.
		{"a new request by the agent", request(keysA), keysA.AgentID, false, false,
			model.JobRunning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply := ask(t, tc.data, tc.subject)
			if refused := reply.Error != ""; refused != tc.refused {
				t.Errorf("refused = %v (%q), want %v", refused, reply.Error, tc.refused)
			}
			if started := slices.Contains(reply.Started, r.Job.ID); started != tc.wantStart {
				t.Errorf("started = %v, want %v", started, tc.wantStart)
			}
			if got := state(); got != tc.wantState {
				t.Errorf("job is %s, want %s", got, tc.wantState)
			}
		})
	}
	recs, err := e.c.ListAudit("", time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var starts, rejected int
	for _, rec := range recs.Records {
		switch {
		case rec.Op == "job.accepted" && rec.JobID == r.Job.ID:
			starts++
		case rec.Code == "bad_event":
			rejected++
		}
	}
	if starts != 1 || rejected != 4 {
		t.Errorf("%d starts and %d rejected requests audited, want 1 and 4", starts, rejected)
	}
	// The agent, back, must not run a job the server has started already.
	a := e.startAgent(dirA, nil)
	waitFor(t, "the agent to decline the job", func() bool {
		return strings.Contains(a.logs.String(), "job not started: job_id="+r.Job.ID)
	})
	if after, _ := os.ReadFile(file); !bytes.Equal(after, f.before) {
		t.Error("the target changed")
	}
}

// snapshot is the state of an account and its job, for comparisons.
func (e *env) snapshot(path string) *api.Account {
	e.t.Helper()
	a, err := e.c.ShowAccount(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func TestAgentCannotUseAnotherAgentsSubjects(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	dirA, dirB := e.enroll("dc1"), e.enroll("dc1")
	_, kpA := agentSecrets(t, dirA)
	keysB, _ := agentSecrets(t, dirB)
	keysA, _ := agentSecrets(t, dirA)

	errs := make(chan error, 10)
	nc := e.natsAs(t, kpA, nats.CustomInboxPrefix(wire.InboxPrefix(keysA.AgentID)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	cases := []struct {
		name string
		do   func() error
	}{
		{"subscribe to another agent's jobs", func() error {
			_, err := nc.SubscribeSync(wire.JobSubject(keysB.AgentID))
			return err
		}},
		{"publish on another agent's events", func() error {
			return nc.Publish(wire.EventSubject(keysB.AgentID), []byte("{}"))
		}},
		{"ask to start another agent's jobs", func() error {
			return nc.Publish(wire.AcceptSubject(keysB.AgentID), []byte("{}"))
		}},
		{"hand the server a report as another agent", func() error {
			return nc.Publish(wire.ReportSubject(keysB.AgentID), []byte("{}"))
		}},
		{"read the job stream directly", func() error {
			_, err := nc.SubscribeSync(wire.JobSubjects)
			return err
		}},
		{"offer jobs to another agent", func() error {
			return nc.Publish(wire.OfferSubject(keysB.AgentID), []byte("{}"))
		}},
		{"take another agent's job offers", func() error {
			_, err := nc.SubscribeSync(wire.OfferSubject(keysB.AgentID))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				return
			}
			nc.Flush()
			select {
			case err := <-errs:
				if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
					t.Errorf("error = %v, want a permissions violation", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("NATS allowed it")
			}
		})
	}
}
