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
