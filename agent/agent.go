// Package agent is the PassMan agent. It enrolls with a server once, then
// connects out to NATS and takes the batches of jobs sealed to it: offered
// by the server directly while it has room, or from its own durable
// JetStream consumer, where the server queues the others. It runs them
// through driver plugins and answers for each job with events, sent in
// reports signed by its key.
//
// An agent runs a job at most once and never late. It refuses a job whose
// deadline is past or too near, and it writes every job id to a journal on
// disk, synced, before it runs the job: a job delivered again, by
// JetStream after a lost ack or by anyone replaying it, is refused even
// across a restart. Before it touches a target it asks the server to
// record that the job started and waits for the answer, so that the
// server knows the target may have changed whatever happens next.
package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/plugins/sdk"
)

// DriverSource gives the agent the drivers it runs jobs with. The plugin
// host of package agent/plugins is one.
type DriverSource interface {
	// Driver returns the running driver of a target type.
	Driver(name string) (sdk.Driver, error)
	// Loaded names the drivers that are running.
	Loaded() []string
}

// Reasons an agent gives in refused events, and in result events for
// failures that are not the driver's.
const (
	// ReasonDeadlinePassed: the job's deadline is past, or too near to
	// start the job.
	ReasonDeadlinePassed = "deadline_passed"
	// ReasonAlreadyRun: the agent took this job before. It may or may not
	// have run it; only the server's record of its start says so.
	ReasonAlreadyRun = "already_run"
	// ReasonBadSeal: the payload does not open with the agent's key, or
	// it is not sealed by the agent's server.
	ReasonBadSeal = "bad_seal"
	// ReasonNoDriver: no driver of the job's target type is loaded.
	ReasonNoDriver = "no_driver"
	// ReasonBadJob: the payload is not a job the agent can run.
	ReasonBadJob = "bad_job"
	// ReasonTimeout: the job's deadline came before the driver answered.
	ReasonTimeout = "timeout"
	// ReasonFailed: the driver failed without saying why.
	ReasonFailed = "failed"
	// ReasonNotStarted: the agent dropped the job before touching the
	// target, because it could not record that it started it.
	ReasonNotStarted = "not_started"
)

var (
	// ErrNoDataDir is returned when no data directory is configured.
	ErrNoDataDir = errors.New("no agent data directory configured")
	// ErrNoDrivers is returned by Run when Config.Drivers is nil.
	ErrNoDrivers = errors.New("no driver source configured")
	// ErrNotEnrolled is returned by Run for a data directory without an
	// enrollment.
	ErrNotEnrolled = errors.New("the agent is not enrolled; run passman agent enroll first")
	// ErrNoJobsKey is returned by Run for an agent enrolled before its
	// server signed the jobs it sends: it cannot tell them from forged
	// ones.
	ErrNoJobsKey = errors.New("the agent was enrolled before jobs were signed and cannot " +
		"check them; enroll it again with a new token")
	// ErrAlreadyEnrolled is returned by Enroll for a data directory that
	// holds an enrollment.
	ErrAlreadyEnrolled = errors.New("the data directory already holds an agent enrollment")
	// ErrDataDirInUse is returned by Run when another agent process runs
	// on the same data directory.
	ErrDataDirInUse = errors.New("another agent is running on this data directory")
	// ErrJournalDamaged is returned when the journal of job ids holds a
	// record that does not decode.
	ErrJournalDamaged = errors.New("the agent's job journal is damaged")
)

// Defaults of Config.
const (
	DefaultHeartbeatEvery = 5 * time.Second
	DefaultMaxInFlight    = 64
	DefaultDeadlineMargin = 2 * time.Second
)

// Config configures Run.
type Config struct {
	// DataDir is the directory Enroll wrote the agent's identity to. The
	// journal of job ids lives there too. Required.
	DataDir string
	// Drivers runs the jobs. Required.
	Drivers DriverSource
	// Logger receives the agent's logs. Default: a logger that discards.
	Logger hclog.Logger
	// Version is the agent's version, sent with every heartbeat.
	Version string
	// HeartbeatEvery is how often the agent tells the server it is alive.
	// Default 5s.
	HeartbeatEvery time.Duration
	// MaxInFlight is how many jobs the agent runs at once. Default 64.
	MaxInFlight int
	// DeadlineMargin is the least time a job must have left before its
	// deadline for the agent to start it. Default 2s.
	DeadlineMargin time.Duration
}

// EnsureDefaults sets every unset field of c to its default and returns c.
func (c *Config) EnsureDefaults() *Config {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.DeadlineMargin <= 0 {
		c.DeadlineMargin = DefaultDeadlineMargin
	}
	return c
}

// Validate reports the first required field of c that is missing.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return ErrNoDataDir
	case c.Drivers == nil:
		return ErrNoDrivers
	}
	return nil
}

// Run runs the agent until ctx is done: it connects to NATS, sends
// heartbeats and runs the jobs of its consumer. When ctx is done it takes
// no new job, lets the jobs in flight finish (each is bounded by its
// deadline) and returns nil. It returns an error only when it cannot
// start.
func Run(ctx context.Context, cfg Config) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger.Named("agent")
	id, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return err
	}
	defer id.wipe()
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	j, err := openJournal(journalPath(cfg.DataDir), time.Now())
	if err != nil {
		return err
	}
	defer j.close()

	a, err := newAgent(cfg, log, id, j)
	if err != nil {
		return err
	}
	defer a.close()
	log.Info("agent started", "agent_id", id.info.AgentID, "zone", id.info.Zone,
		"nats", id.info.NATS, "journal_entries", j.len())
	a.serve(ctx)
	log.Info("agent stopped", "agent_id", id.info.AgentID)
	return nil
}

// wrapf wraps err with what was being done, or returns nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
