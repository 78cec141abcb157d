package model

import "time"

// JobKind names what a job does.
type JobKind string

// The kinds of job.
const (
	JobReset    JobKind = "reset"
	JobUpdate   JobKind = "update"
	JobCheck    JobKind = "check"
	JobCheckOut JobKind = "checkout"
	JobCheckIn  JobKind = "checkin"
	JobRestore  JobKind = "restore"
	// JobResolve settles which of a credential's candidates a target holds
	// after a change whose outcome is unknown.
	JobResolve JobKind = "resolve"
	// JobAutoReset changes a credential after its checkout ended.
	JobAutoReset JobKind = "autoreset"
)

// JobState is where a job is in its life.
type JobState string

// The states of a job.
const (
	// JobWaitingAgent: recorded, waiting for an agent of the target's zone.
	JobWaitingAgent JobState = "waiting_agent"
	// JobRunning: handed to an agent.
	JobRunning JobState = "running"
	// JobSucceeded and JobFailed are final.
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
)

// Final reports whether s is a state a job does not leave.
func (s JobState) Final() bool { return s == JobSucceeded || s == JobFailed }

// Job is a unit of work on one credential of one account.
type Job struct {
	ID             string         `json:"id"`
	Kind           JobKind        `json:"kind"`
	AccountID      string         `json:"account_id"`
	Path           string         `json:"path"`
	Type           CredentialType `json:"type"`
	RequestedBy    string         `json:"requested_by"`
	ChangeOnTarget bool           `json:"change_on_target"`
	Forced         bool           `json:"forced,omitempty"`
	Version        uint64         `json:"version,omitempty"`
	State          JobState       `json:"state"`
	Created        time.Time      `json:"created"`
	Deadline       time.Time      `json:"deadline,omitzero"`
	Steps          []JobStep      `json:"steps"`
	Outcome        string         `json:"outcome,omitempty"`
	Reason         string         `json:"reason,omitempty"`

	// Zone is the zone of the job's target, whose agents may run it.
	Zone string `json:"zone,omitempty"`
	// AgentID is the agent the job was handed to; a job is never handed
	// to another agent before its deadline.
	AgentID string `json:"agent_id,omitempty"`
	// Dispatched is when the job was handed to AgentID.
	Dispatched time.Time `json:"dispatched,omitzero"`
	// StartRequest names the request with which AgentID asked to start
	// the job, so that the same request sent again gets the same answer
	// and any other is refused.
	StartRequest string `json:"start_request,omitempty"`
	// MaybeStarted marks a job still waiting that may have started all
	// the same: the server restarted after handing it to AgentID, and the
	// write that recorded its start may have been lost. Past its deadline
	// its outcome is unknown rather than not started.
	MaybeStarted bool `json:"maybe_started,omitempty"`
	// Candidates are the versions a check tries, in order.
	Candidates []uint64 `json:"candidates,omitempty"`
	// Reconcile says the change logs in with the target's reconcile
	// account.
	Reconcile bool `json:"reconcile,omitempty"`
	// PrevStatus and PrevReason are the credential's status before the
	// job, restored when the job fails without touching the target.
	PrevStatus SyncStatus `json:"prev_status,omitempty"`
	PrevReason string     `json:"prev_reason,omitempty"`
	// Resolves is the job whose unknown outcome this job settles.
	Resolves string `json:"resolves,omitempty"`
}

// JobStep records a state a job entered and when.
type JobStep struct {
	State JobState  `json:"state"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// Enter moves j to state at t, noting why.
func (j *Job) Enter(s JobState, t time.Time, note string) {
	j.State = s
	j.Steps = append(j.Steps, JobStep{State: s, At: t, Note: note})
}
