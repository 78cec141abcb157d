package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passman-dev/passman/agent/plugins"
	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/netns"
	"github.com/passman-dev/passman/server/model"
)

// bin is the directory of the passman binary and the driver plugins, built
// once for the package by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "passman-e2e-bin-")
	if err == nil {
		err = build(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles passman and every built-in driver (each
// plugins/<name>/cmd/passman-driver-<name>) into dir and writes their
// checksums.
func build(dir string) error {
	targets := map[string]string{"passman": "../cmd/passman"}
	mains, err := filepath.Glob("../plugins/*/cmd/passman-driver-*")
	if err != nil {
		return err
	}
	for _, m := range mains {
		targets[filepath.Base(m)] = m
	}
	for name, pkg := range targets {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./"+pkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return plugins.WriteChecksums(dir)
}

// env is a running server and the agents of a test.
type env struct {
	t   testing.TB
	srv *testserver.Server
	c   *client.Client
}

func newEnv(t testing.TB, cfg testserver.Config) *env {
	t.Helper()
	s := testserver.StartWith(t, cfg)
	return &env{t: t, srv: s, c: s.Admin}
}

// passman runs the CLI with the admin's environment and stdin, and returns
// its stdout.
func (e *env) passman(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "passman"), args...)
	cmd.Env = append(os.Environ(),
		client.EnvAddr+"=https://"+e.srv.Addr(),
		client.EnvToken+"="+string(e.srv.Bootstrap.AdminToken.Reveal()),
		client.EnvCACert+"="+filepath.Join(e.srv.Dir, "ca.pem"))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("passman %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// enroll enrolls a new agent of zone with the CLI and returns its data
// directory.
func (e *env) enroll(zone string) string {
	e.t.Helper()
	tok, err := e.c.CreateAgentToken(&api.AgentTokenRequest{Zone: zone})
	if err != nil {
		e.t.Fatal(err)
	}
	dir := filepath.Join(e.t.TempDir(), "agent")
	_, err = e.passman(tok.Token+"\n", "agent", "enroll", "--server", "https://"+e.srv.Addr(),
		"--token-stdin", "--data", dir, "--name", zone+"-agent")
	if err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// agentProc is a running `passman agent run`.
type agentProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	logs *logbuf.Buffer
	done chan error
	id   string
}

// startAgent runs the agent of dir, inside ns when it is not nil, and
// waits until the server sees it online.
func (e *env) startAgent(dir string, ns *netns.NS) *agentProc {
	e.t.Helper()
	return e.runAgent(dir, ns)
}

// startAgentArgs is startAgent with more arguments for agent run.
func (e *env) startAgentArgs(dir string, extra ...string) *agentProc {
	e.t.Helper()
	return e.runAgent(dir, nil, extra...)
}

func (e *env) runAgent(dir string, ns *netns.NS, extra ...string) *agentProc {
	e.t.Helper()
	args := append([]string{"agent", "run", "--data", dir, "--plugins", bin, "--log-level", "debug"},
		extra...)
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(context.Background(), filepath.Join(bin, "passman"), args...)
	} else {
		cmd = exec.Command(filepath.Join(bin, "passman"), args...)
	}
	a := &agentProc{t: e.t, cmd: cmd, logs: &logbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = a.logs, a.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting agent: %v", err)
	}
	go func() { a.done <- cmd.Wait() }()
	e.t.Cleanup(a.kill)
	a.id = e.waitAgentOnline(a)
	return a
}

// waitAgentOnline polls the agent list until an agent that this process
// runs for is online, and returns its id.
func (e *env) waitAgentOnline(a *agentProc) string {
	e.t.Helper()
	var id string
	waitFor(e.t, "the agent to come online", func() bool {
		select {
		case err := <-a.done:
			e.t.Fatalf("agent exited: %v\n%s", err, a.logs.String())
		default:
		}
		list, err := e.c.ListAgents()
		if err != nil {
			return false
		}
		for _, ag := range list.Agents {
			if ag.Online && strings.Contains(a.logs.String(), ag.ID) {
				id = ag.ID
				return true
			}
		}
		return false
	})
	return id
}

// stop asks the agent to stop and waits for it.
func (a *agentProc) stop() {
	a.t.Helper()
	if a.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.kill()
		a.t.Fatal("agent did not stop on SIGTERM")
	}
}

// kill ends the agent and its plugins at once.
func (a *agentProc) kill() {
	if a.cmd.Process != nil {
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitJob waits for a job to end.
func (e *env) waitJob(id string) *model.Job {
	e.t.Helper()
	var j *model.Job
	waitFor(e.t, "job "+id+" to end", func() bool {
		var err error
		j, err = e.c.WaitJob(id, 5*time.Second)
		return err == nil && j.State.Final()
	})
	return j
}

// waitSettled polls an account until no job is changing or checking it,
// and returns it.
func (e *env) waitSettled(path string) *api.Account {
	e.t.Helper()
	var a *api.Account
	waitFor(e.t, path+" to settle", func() bool {
		// Jobs are looked at after the account was read, so a job that
		// ends in between leaves a stale account: read it again then and
		// accept it only when nothing moved.
		before, err := e.c.ShowAccount(path)
		if err != nil || !e.settled(before) {
			return false
		}
		a, err = e.c.ShowAccount(path)
		return err == nil && e.settled(a) && sameCredentials(before, a)
	})
	return a
}

// settled reports whether no credential of a is changing or waits on a job
// that is still running.
func (e *env) settled(a *api.Account) bool {
	for _, cr := range a.Credentials {
		if cr.Status == model.Changing || cr.PendingJob != "" && e.jobRunning(cr.PendingJob) {
			return false
		}
	}
	return true
}

func sameCredentials(a, b *api.Account) bool {
	if len(a.Credentials) != len(b.Credentials) {
		return false
	}
	for i, x := range a.Credentials {
		y := b.Credentials[i]
		if x.Status != y.Status || x.PendingJob != y.PendingJob || x.Version != y.Version || x.Pending != y.Pending {
			return false
		}
	}
	return true
}

func (e *env) jobRunning(id string) bool {
	j, err := e.c.ShowJob(id)
	return err == nil && !j.State.Final()
}

// checkout returns an account's current value of type t.
func (e *env) checkout(path string, t model.CredentialType) string {
	e.t.Helper()
	co, err := e.c.Checkout(&api.CheckoutRequest{Path: path, Type: t})
	if err != nil {
		e.t.Fatal(err)
	}
	return co.Value
}

// noSecrets fails the test if any secret appears in the server's or the
// agents' logs.
func (e *env) noSecrets(agents []*agentProc, secrets ...string) {
	e.t.Helper()
	logs := map[string]string{"server": e.srv.Logs.String()}
	for i, a := range agents {
		logs[fmt.Sprintf("agent %d", i)] = a.logs.String()
	}
	for name, l := range logs {
		for _, s := range secrets {
			if s != "" && strings.Contains(l, s) {
				e.t.Errorf("a secret appears in the %s log", name)
			}
		}
	}
}
