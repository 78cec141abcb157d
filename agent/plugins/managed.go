package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/passman-dev/passman/plugins/sdk"
)

// managed is one driver plugin and the process that runs it.
type managed struct {
	spec Spec
	// dup is set when another Spec has the same name.
	dup bool
	// hostLog is for the host's lines about the plugin; log, named after
	// the driver, for the plugin's own.
	hostLog, log hclog.Logger

	mu      sync.Mutex
	client  *plugin.Client
	driver  sdk.Driver
	started time.Time
	// starts counts the plugin's successful starts.
	starts int
	// fails counts the plugin's failed starts and early deaths in a row.
	fails int
	// nextTry is the earliest time to start the plugin again.
	nextTry time.Time
	closed  bool
}

// ensure returns the plugin's driver, starting its process when it does
// not run and its wait, if any, is over.
func (m *managed) ensure(ctx context.Context) (sdk.Driver, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case m.client != nil && !m.client.Exited():
		return m.driver, nil
	case m.client != nil:
		m.noteExit()
	}
	if wait := time.Until(m.nextTry); wait > 0 {
		return nil, fmt.Errorf("%w; next try in %s", ErrRestarting, wait.Round(time.Millisecond))
	}
	if m.starts > 0 {
		m.hostLog.Info("restarting driver", "driver", m.spec.Name, "restarts", m.starts)
	}
	if err := m.start(ctx); err != nil {
		m.fails++
		wait := backoff(m.fails)
		m.nextTry = time.Now().Add(wait)
		m.hostLog.Error("driver did not start", "driver", m.spec.Name, "error", err,
			"retry_in", wait)
		return nil, err
	}
	return m.driver, nil
}

// noteExit forgets a process that has ended and sets when to start the
// next: at once after a stable run or the first early death, later after
// each further one.
func (m *managed) noteExit() {
	up := time.Since(m.started)
	m.client.Kill()
	m.client, m.driver = nil, nil
	if up >= stableAfter {
		m.fails = 0
	}
	wait := backoff(m.fails)
	m.fails++
	m.nextTry = time.Now().Add(wait)
	m.hostLog.Warn("driver plugin exited", "driver", m.spec.Name,
		"uptime", up.Round(time.Millisecond), "restart_in", wait)
}

// backoff returns the wait before a start after n failures in a row.
func backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return min(restartBase<<min(n-1, 16), restartMax)
}

// start starts the plugin's process and checks that it is the driver its
// Spec names.
func (m *managed) start(ctx context.Context) error {
	sum, err := m.checkSpec()
	if err != nil {
		return err
	}
	client := plugin.NewClient(m.clientConfig(sum))
	drv, err := m.connect(ctx, client)
	if err != nil {
		client.Kill()
		return err
	}
	m.client, m.driver, m.started = client, drv, time.Now()
	m.starts++
	m.hostLog.Info("driver started", "driver", m.spec.Name, "pid", pidOf(client),
		"path", m.spec.Path)
	return nil
}

// checkSpec checks the plugin's Spec and returns its SHA-256 as bytes.
func (m *managed) checkSpec() ([]byte, error) {
	s := m.spec
	switch {
	case m.dup:
		return nil, fmt.Errorf("%w: more than one spec names driver %q", ErrInvalidSpec, s.Name)
	case s.Name == "" || strings.ContainsAny(s.Name, `/\`):
		return nil, fmt.Errorf("%w: driver name %q", ErrInvalidSpec, s.Name)
	case s.Path == "":
		return nil, fmt.Errorf("%w: no path for driver %q", ErrInvalidSpec, s.Name)
	}
	sum, err := hex.DecodeString(s.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%w: SHA-256 of driver %q is not 64 hexadecimal digits",
			ErrInvalidSpec, s.Name)
	}
	return sum, nil
}

// clientConfig returns the go-plugin configuration that starts the
// plugin: gRPC only, over automatic mTLS, after checking the executable.
func (m *managed) clientConfig(sum []byte) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginSet(nil),
		Cmd:              pluginCmd(m.spec, m.log),
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     startTimeout,
		Logger:           routedLogger{Logger: m.log, exe: filepath.Base(m.spec.Path)},
	}
}

// connect starts client's process, dispenses the driver and checks its
// name.
func (m *managed) connect(ctx context.Context, client *plugin.Client) (sdk.Driver, error) {
	rpc, err := client.Client()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return nil, fmt.Errorf("%w: %s", ErrChecksumMismatch, m.spec.Path)
	case err != nil:
		return nil, fmt.Errorf("starting %s: %w", m.spec.Path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispensing the driver: %w", err)
	}
	drv, ok := raw.(sdk.Driver)
	if !ok {
		return nil, fmt.Errorf("dispensing the driver: got a %T", raw)
	}
	desc, err := drv.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("describing the driver: %w", err)
	}
	if desc.Name != m.spec.Name {
		return nil, fmt.Errorf("%w: %q, not %q", ErrNameMismatch, desc.Name, m.spec.Name)
	}
	return drv, nil
}

// running reports whether the plugin's process runs.
func (m *managed) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client != nil && !m.client.Exited()
}

// close stops the plugin for good.
func (m *managed) close() {
	m.mu.Lock()
	c := m.client
	m.client, m.driver, m.closed = nil, nil, true
	m.mu.Unlock()
	if c != nil {
		c.Kill()
		m.hostLog.Info("driver stopped", "driver", m.spec.Name)
	}
}

// pidOf returns the process id of a started plugin client, or 0.
func pidOf(c *plugin.Client) int {
	if rc := c.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// routedLogger is the logger go-plugin gets for one plugin. go-plugin logs
// what the plugin writes to stderr under Named(executable's file name);
// routedLogger leaves that name out, so that the lines show under the
// driver's name alone.
type routedLogger struct {
	hclog.Logger
	exe string
}

// Named returns the logger itself for the executable's name, and a
// sub-logger otherwise.
func (l routedLogger) Named(name string) hclog.Logger {
	if name == l.exe {
		return l.Logger
	}
	return l.Logger.Named(name)
}
