package model

import "time"

// SyncStatus says whether PassMan knows that a credential works on its
// target.
type SyncStatus string

// The sync statuses of credentials and accounts.
const (
	// InSync: a login with the current credential succeeded.
	InSync SyncStatus = "InSync"
	// NotInSync: the last check or change failed; Reason says why.
	NotInSync SyncStatus = "NotInSync"
	// Unknown: never checked, changed in the database only, or the outcome
	// of a change is not known yet.
	Unknown SyncStatus = "Unknown"
	// Changing: a change is in flight.
	Changing SyncStatus = "Changing"
)

// SyncStatuses lists every sync status.
var SyncStatuses = []SyncStatus{InSync, NotInSync, Unknown, Changing}

// Compliance says whether a credential's current value meets its policy.
type Compliance string

// The compliance statuses.
const (
	Compliant    Compliance = "Compliant"
	Noncompliant Compliance = "Noncompliant"
)

// Credential is the state of one credential of an account. The values
// themselves are kept encrypted in Version records.
type Credential struct {
	AccountID string         `json:"account_id"`
	Type      CredentialType `json:"type"`

	// Current is the number of the current version; 0 means none yet.
	Current uint64 `json:"current"`
	// Pending is the number of a version on its way to the target, or 0.
	Pending uint64 `json:"pending,omitempty"`
	// PendingJob is the job that carries Pending.
	PendingJob string `json:"pending_job,omitempty"`
	// Last is the highest version number ever used.
	Last uint64 `json:"last"`

	Status     SyncStatus `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	CheckedAt  time.Time  `json:"checked_at,omitzero"`
	ChangedAt  time.Time  `json:"changed_at,omitzero"`
	Compliance Compliance `json:"compliance"`
	Violations []string   `json:"violations,omitempty"`

	Checkout *Checkout `json:"checkout,omitempty"`
}

// Checkout records who holds a credential and until when.
type Checkout struct {
	User      string    `json:"user"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	Exclusive bool      `json:"exclusive"`
	Reason    string    `json:"reason,omitempty"`
}

// Active reports whether c is an exclusive checkout that has not expired at
// now.
func (c *Checkout) Active(now time.Time) bool {
	return c != nil && c.Exclusive && now.Before(c.Until)
}

// Version is one value of a credential, sealed with the vault's data key.
type Version struct {
	N         uint64     `json:"n"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by"`
	Source    string     `json:"source"` // typed, generated, update, restore, initial
	JobID     string     `json:"job_id,omitempty"`
	Sealed    []byte     `json:"sealed"`
	Compliant Compliance `json:"compliance"`
}

// AccountStatus derives an account's status from its credentials' statuses:
// Changing if any credential is changing, NotInSync if any is not in sync,
// InSync only if every one is, and Unknown otherwise.
func AccountStatus(creds []*Credential) SyncStatus {
	if len(creds) == 0 {
		return Unknown
	}
	all := true
	for _, c := range creds {
		if c.Status == Changing {
			return Changing
		}
		all = all && c.Status == InSync
	}
	for _, c := range creds {
		if c.Status == NotInSync {
			return NotInSync
		}
	}
	if all {
		return InSync
	}
	return Unknown
}
