// Package plugins is the agent's plugin host. It starts each configured
// driver plugin once, after checking the executable's SHA-256, keeps the
// process running, restarts it when it dies, and hands out the sdk.Driver
// that talks to it over the plugin's local mTLS gRPC connection.
//
// A plugin's log lines, which it writes as JSON to its stderr, reach the
// host's logger under the driver's name. A plugin process gets no
// environment from the agent but PATH, TMPDIR and its log level, so that
// nothing the agent was given in its environment reaches a driver.
package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// The errors of the plugin host.
var (
	// ErrUnknownDriver is returned for a driver name no Spec has.
	ErrUnknownDriver = errors.New("unknown driver")
	// ErrInvalidSpec is returned for a Spec with a field missing or wrong.
	ErrInvalidSpec = errors.New("invalid plugin spec")
	// ErrChecksumMismatch is returned when a plugin executable's SHA-256
	// is not the one its Spec names.
	ErrChecksumMismatch = errors.New("plugin executable does not match its SHA-256")
	// ErrNameMismatch is returned when a plugin describes itself as
	// another driver than its Spec names.
	ErrNameMismatch = errors.New("plugin reports another driver name")
	// ErrRestarting is returned while a plugin that died waits to be
	// started again.
	ErrRestarting = errors.New("driver plugin is waiting to restart")
	// ErrClosed is returned once the host is closed.
	ErrClosed = errors.New("plugin host is closed")
)

// Timing of starts and restarts.
const (
	// startTimeout bounds the start of a plugin, its Describe included.
	startTimeout = 20 * time.Second
	// stableAfter is how long a plugin must have run for its death not to
	// count against it: the next restart is then immediate.
	stableAfter = time.Minute
	// restartBase is the wait before the second restart in a row of a
	// plugin that keeps dying; each further one doubles it.
	restartBase = time.Second
	// restartMax bounds the wait between restarts.
	restartMax = time.Minute
)

// Spec says where a driver plugin is and what it must be.
type Spec struct {
	// Name is the driver's type name, as its Describe reports it.
	Name string
	// Path is the plugin executable.
	Path string
	// SHA256 is the executable's SHA-256 in hexadecimal. The host does not
	// start an executable whose content differs.
	SHA256 string
}

// Host starts and keeps the driver plugins of an agent. Its methods are
// safe to call concurrently.
type Host struct {
	log     hclog.Logger
	names   []string
	plugins map[string]*managed
}

// NewHost returns a host for the plugins specs name. It starts none of
// them: Start does. A driver that two Specs name is not started, and Start
// says so. log may be nil.
func NewHost(specs []Spec, log hclog.Logger) *Host {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	h := &Host{log: log, plugins: map[string]*managed{}}
	for _, s := range specs {
		if _, dup := h.plugins[s.Name]; dup {
			h.plugins[s.Name].dup = true
			continue
		}
		h.names = append(h.names, s.Name)
		h.plugins[s.Name] = &managed{spec: s, hostLog: log, log: log.Named(s.Name)}
	}
	return h
}

// Start starts every plugin that is not running. A plugin that fails to
// start is left out, to be tried again by Driver after a wait, and its
// error is part of the one returned; the others run.
func (h *Host) Start(ctx context.Context) error {
	var errs []error
	for _, name := range h.names {
		if _, err := h.plugins[name].ensure(ctx); err != nil {
			errs = append(errs, fmt.Errorf("starting driver %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Driver returns the driver named name. When its plugin has died, Driver
// starts it again first, at once the first time and after a wait that
// grows, up to a minute, when it keeps dying; while it waits, Driver
// returns ErrRestarting.
func (h *Host) Driver(name string) (sdk.Driver, error) {
	m, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownDriver, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	d, err := m.ensure(ctx)
	if err != nil {
		return nil, fmt.Errorf("driver %s: %w", name, err)
	}
	return d, nil
}

// Loaded returns the names of the drivers whose plugins run, sorted.
func (h *Host) Loaded() []string {
	var out []string
	for _, name := range h.names {
		if h.plugins[name].running() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Close stops every plugin and waits for their processes to end. Driver
// fails with ErrClosed afterwards.
func (h *Host) Close() {
	var wg sync.WaitGroup
	for _, m := range h.plugins {
		wg.Go(m.close)
	}
	wg.Wait()
}

// pluginEnv returns the environment of a plugin process.
func pluginEnv(log hclog.Logger) []string {
	env := []string{sdk.LogLevelEnv + "=" + log.GetLevel().String()}
	for _, k := range []string{"PATH", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// pluginCmd returns the command that starts the plugin of s.
func pluginCmd(s Spec, log hclog.Logger) *exec.Cmd {
	cmd := exec.Command(s.Path)
	cmd.Env = pluginEnv(log)
	cmd.Dir = filepath.Dir(s.Path)
	return cmd
}
