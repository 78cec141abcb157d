// Package proc runs the server process of a test target: its output sent
// where the test reads it, a wait until it serves, and a stop that signals it
// and kills it when it lingers.
package proc

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Process is a started server process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Start starts cmd with its standard output and error going to out. name
// names the server in the test's failure.
func Start(t testing.TB, name string, cmd *exec.Cmd, out io.Writer) *Process {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ErrExited is Wait's error when the process exits before it serves.
var ErrExited = errors.New("the process exited")

// Wait calls probe every 20 ms until it succeeds. It returns ErrExited
// when the process exits first, and probe's last error when timeout
// passes.
func (p *Process) Wait(timeout time.Duration, probe func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return ErrExited
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends sig and waits for the process to exit, killing it when it
// is still there after grace. It is safe to call more than once.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}
