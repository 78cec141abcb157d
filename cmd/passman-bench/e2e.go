package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/passman-dev/passman/agent"
	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
)

// endToEnd measures resets changed on their targets: server, NATS, an
// agent process, the file driver plugin and back, with every state change
// synced. Each client owns one account, so that its resets never wait on
// another client's.
func endToEnd(e *env, levels []int, d time.Duration, binDir string) error {
	if _, err := os.Stat(filepath.Join(binDir, "SHA256SUMS")); err != nil {
		fmt.Printf("\nend to end: skipped, no driver plugins in %s (make build)\n", binDir)
		return nil
	}
	maxN := 0
	for _, n := range levels {
		maxN = max(maxN, n)
	}
	paths, err := e.fileTargets(maxN)
	if err != nil {
		return err
	}
	ag, ready, err := e.startAgent(binDir)
	if err != nil {
		return err
	}
	defer ag.stop()
	time.Sleep(2 * time.Second)
	idle := ag.rss()
	startProfile()
	where := targetDir
	if where == "" {
		where = os.TempDir()
	}
	fmt.Printf("\nend to end through NATS, an agent process and the file driver plugin; "+
		"target files in %s, agent logging at %s\n", where, agentLogLevel)
	fmt.Printf("agent ready %v after start; agent RSS idle %s\n", ready.Round(time.Millisecond), idle)
	fmt.Printf("%-22s %8s %12s %10s %10s %8s\n", "operation", "in flight", "resets/s", "p50", "p99", "errors")
	var loaded string
	var cpu []string
	for _, n := range levels {
		var once sync.Once
		sample := func() { once.Do(func() { loaded = ag.rss() }) }
		before, start := ag.cpu(), time.Now()
		r := measureResets(e, paths[:n], d, sample)
		used, wall := ag.cpu().minus(before), time.Since(start)
		printResult("reset on target", n, r)
		cpu = append(cpu, used.perReset(n, r.rate*d.Seconds(), wall))
	}
	fmt.Printf("agent RSS under load %s\n", loaded)
	fmt.Println("CPU time per reset (server with NATS and load generator / agent / plugins):")
	for _, line := range cpu {
		fmt.Println(line)
	}
	return nil
}

// cpuTimes is the CPU time, user and system, that each process of the
// measurement has used so far.
type cpuTimes struct {
	server, agent, plugins time.Duration
}

func (c cpuTimes) minus(o cpuTimes) cpuTimes {
	return cpuTimes{c.server - o.server, c.agent - o.agent, c.plugins - o.plugins}
}

// perReset says how much CPU time each process used per reset, over
// resets resets with n in flight in wall, and how busy the machine was.
func (c cpuTimes) perReset(n int, resets float64, wall time.Duration) string {
	if resets == 0 {
		return fmt.Sprintf("  %2d in flight: no reset finished", n)
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/resets)
	}
	busy := float64(c.server+c.agent+c.plugins) / float64(wall) / float64(runtime.NumCPU())
	return fmt.Sprintf("  %2d in flight: %s / %s / %s; the %d cores %.0f%% busy", n, per(c.server),
		per(c.agent), per(c.plugins), runtime.NumCPU(), 100*busy)
}

// fileTargets creates n targets of the file driver, each with one account
// whose value the file holds.
func (e *env) fileTargets(n int) ([]string, error) {
	dir, err := os.MkdirTemp(targetDir, "passman-bench-files-")
	if err != nil {
		return nil, err
	}
	e.cleanup = append(e.cleanup, func() { _ = os.RemoveAll(dir) })
	if _, err := e.cl.CreateFolder("files"); err != nil {
		return nil, err
	}
	var paths []string
	for i := range n {
		file := filepath.Join(dir, fmt.Sprintf("app%03d.env", i))
		const first = "Bench-Passw0rd!abcdefghijk"
		if err := os.WriteFile(file, []byte("DB_PASSWORD="+first+"\n"), 0o600); err != nil {
			return nil, err
		}
		tp := fmt.Sprintf("files/app%03d", i)
		_, err := e.cl.CreateTarget(&api.TargetCreateRequest{Path: tp, Type: "file", Address: "localhost",
			Zone: "bench", Params: map[string]string{"path": file, "key": "DB_PASSWORD"}})
		if err != nil {
			return nil, err
		}
		_, err = e.cl.CreateAccount(&api.AccountCreateRequest{Path: tp + "/db",
			Credentials: []api.CredentialSpec{{Type: model.Password, Value: api.NewSecret(secret.FromString(first))}}})
		if err != nil {
			return nil, err
		}
		paths = append(paths, tp+"/db")
	}
	return paths, nil
}

// agentProc is the agent process under measurement.
type agentProc struct {
	cmd  *exec.Cmd
	dir  string
	logs *os.File
}

// startAgent enrolls an agent and runs it as its own process, and returns
// how long it took from start to being seen online.
func (e *env) startAgent(binDir string) (*agentProc, time.Duration, error) {
	tok, err := e.cl.CreateAgentToken(&api.AgentTokenRequest{Zone: "bench"})
	if err != nil {
		return nil, 0, err
	}
	dir, err := os.MkdirTemp("", "passman-bench-agent-")
	if err != nil {
		return nil, 0, err
	}
	err = agent.Enroll(context.Background(), agent.EnrollOptions{Server: "https://" + e.srv.Addr(),
		Token: secret.FromString(tok.Token), CACert: e.cfg.CACert, DataDir: dir, Name: "bench"})
	if err != nil {
		return nil, 0, err
	}
	a := &agentProc{dir: dir, cmd: exec.Command(filepath.Join(binDir, "passman"), "agent", "run",
		"--data", dir, "--plugins", binDir, "--log-level", agentLogLevel)}
	// The agent logs to a file, as deployed, and not over the figures.
	logs, err := os.Create(filepath.Join(os.TempDir(), "passman-bench-agent.log"))
	if err != nil {
		return nil, 0, err
	}
	a.cmd.Stdout, a.cmd.Stderr, a.logs = logs, logs, logs
	start := time.Now()
	if err := a.cmd.Start(); err != nil {
		_ = logs.Close()
		return nil, 0, err
	}
	for time.Since(start) < 30*time.Second {
		list, err := e.cl.ListAgents()
		if err == nil && len(list.Agents) > 0 && list.Agents[0].Online {
			return a, time.Since(start), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "passman-bench: the agent's log is in", logs.Name())
	a.stop()
	return nil, 0, errors.New("the agent did not come online within 30s")
}

func (a *agentProc) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	_ = a.cmd.Wait()
	_ = a.logs.Close()
	_ = os.RemoveAll(a.dir)
}

// rss returns the resident memory of the agent process and of its plugin
// processes.
func (a *agentProc) rss() string {
	self := rssOf(a.cmd.Process.Pid)
	var plugins int
	for _, pid := range a.children() {
		plugins += rssOf(pid)
	}
	return fmt.Sprintf("%.1f MiB (plugins %.1f MiB)", float64(self)/1024, float64(plugins)/1024)
}

// cpu returns the CPU time used so far by this process (the server, its
// NATS server and the load generator), the agent and its plugins.
func (a *agentProc) cpu() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	c := cpuTimes{server: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		agent: cpuOf(a.cmd.Process.Pid)}
	for _, pid := range a.children() {
		c.plugins += cpuOf(pid)
	}
	return c
}

// children returns the pids of the agent's plugin processes.
func (a *agentProc) children() []int {
	var pids []int
	// A child belongs to the thread that started it: look at every thread.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", a.cmd.Process.Pid))
	for _, t := range tasks {
		kids, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(kids)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// clockTick is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100
// on Linux.
const clockTick = 10 * time.Millisecond

// cpuOf returns the user and system CPU time a process has used.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * clockTick
}

// rssOf returns a process's VmRSS in KiB.
func rssOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// measureResets runs one client per path for d, each resetting its account
// on the target in a request that answers once the job has ended.
func measureResets(e *env, paths []string, d time.Duration, sample func()) result {
	return measureEach(e, paths, d, func(cl *client.Client, path string) error {
		r, err := cl.Reset(&api.ResetRequest{Path: path, Type: model.Password, Generate: true,
			WaitSeconds: 30})
		if err != nil {
			return err
		}
		sample()
		if j := r.Job; j.State != model.JobSucceeded {
			return fmt.Errorf("job %s: %s %s", j.ID, j.State, j.Outcome)
		}
		return nil
	})
}
