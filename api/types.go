// Package api defines the JSON documents of PassMan's HTTPS API under /v1:
// the requests, the responses and the error body with its stable codes.
// The server and the Go client share these types.
//
// Secrets in requests travel in Secret fields, which never print. The
// few responses that hand a secret to its caller (a checkout, a generated
// vault key, a new token) carry it in a plain string field named for what
// it is.
package api

import (
	"time"

	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
)

// MaxBodyBytes is the largest request body the server reads.
const MaxBodyBytes = 64 << 10

// VaultStatus answers GET /v1/vault/status.
type VaultStatus struct {
	Open bool `json:"open"`
}

// VaultOpenRequest is the body of POST /v1/vault/open.
type VaultOpenRequest struct {
	Key Secret `json:"key"`
}

// VaultOpenResponse answers POST /v1/vault/open.
type VaultOpenResponse struct {
	Open    bool   `json:"open"`
	KeyName string `json:"key_name"`
}

// VaultKeyAddRequest is the body of POST /v1/vault/keys. Either Key is set
// or Generate is true.
type VaultKeyAddRequest struct {
	Name     string `json:"name"`
	Key      Secret `json:"key"`
	Generate bool   `json:"generate"`
}

// VaultKeyAddResponse answers POST /v1/vault/keys. GeneratedKey is set,
// once, when the server generated the key.
type VaultKeyAddResponse struct {
	Name         string `json:"name"`
	GeneratedKey string `json:"generated_key,omitempty"`
}

// VaultKeyList answers GET /v1/vault/keys.
type VaultKeyList struct {
	Keys []string `json:"keys"`
}

// NameRequest is a body that names one object.
type NameRequest struct {
	Name string `json:"name"`
}

// PathRequest is a body that names one object of the tree by path.
type PathRequest struct {
	Path string `json:"path"`
}

// LoginRequest is the body of POST /v1/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password Secret `json:"password"`
}

// LoginResponse answers POST /v1/login with a new API token.
type LoginResponse struct {
	User  string `json:"user"`
	Token string `json:"token"`
}

// Session describes the caller's web console session: POST /v1/session
// starts one (the body is a LoginRequest) and GET /v1/session reads it.
type Session struct {
	User string `json:"user"`
	// CSRFToken goes in the X-CSRF-Token header of every request of the
	// session that changes anything.
	CSRFToken string `json:"csrf_token"`
	// Ops are the vault-wide operations the user holds on the root.
	Ops []string `json:"ops"`
	// IdleSeconds is how long the session lasts without a request.
	IdleSeconds int `json:"idle_seconds"`
}

// Folder describes a folder.
type Folder struct {
	Path    string    `json:"path"`
	Created time.Time `json:"created"`
}

// FolderList answers GET /v1/folders.
type FolderList struct {
	Folders []Folder `json:"folders"`
}

// TargetCreateRequest is the body of POST /v1/targets.
type TargetCreateRequest struct {
	Path    string            `json:"path"`
	Type    string            `json:"type"`
	Address string            `json:"address"`
	Zone    string            `json:"zone"`
	Params  map[string]string `json:"params,omitempty"`
	// ReconcileAccount names the account of this target that can reset
	// the others; it is created like any other account.
	ReconcileAccount string `json:"reconcile_account,omitempty"`
}

// Target describes a target.
type Target struct {
	Path     string            `json:"path"`
	Type     string            `json:"type"`
	Address  string            `json:"address"`
	Zone     string            `json:"zone"`
	Params   map[string]string `json:"params,omitempty"`
	Accounts int               `json:"accounts"`
	// HostKey is the pinned host key, once a check has seen one.
	HostKey          string `json:"host_key,omitempty"`
	ReconcileAccount string `json:"reconcile_account,omitempty"`
	// Warnings say what could not be checked when the target was created.
	Warnings []string  `json:"warnings,omitempty"`
	Created  time.Time `json:"created"`
}

// TargetList answers GET /v1/targets.
type TargetList struct {
	Targets []Target `json:"targets"`
}

// CredentialSpec is one credential of a new account.
type CredentialSpec struct {
	Type     model.CredentialType `json:"type"`
	Policy   string               `json:"policy,omitempty"`
	Value    Secret               `json:"value"`
	Generate bool                 `json:"generate,omitempty"`
}

// AccountCreateRequest is the body of POST /v1/accounts.
type AccountCreateRequest struct {
	Path        string           `json:"path"`
	Credentials []CredentialSpec `json:"credentials"`
}

// Credential describes one credential of an account, never its value.
type Credential struct {
	Type       model.CredentialType `json:"type"`
	Policy     string               `json:"policy"`
	Status     model.SyncStatus     `json:"status"`
	Reason     string               `json:"reason,omitempty"`
	CheckedAt  time.Time            `json:"checked_at,omitzero"`
	ChangedAt  time.Time            `json:"changed_at,omitzero"`
	Compliance model.Compliance     `json:"compliance"`
	Violations []string             `json:"violations,omitempty"`
	Version    uint64               `json:"version"`
	Pending    uint64               `json:"pending,omitempty"`
	PendingJob string               `json:"pending_job,omitempty"`
	Checkout   *model.Checkout      `json:"checkout,omitempty"`
}

// Account describes an account and its credentials.
type Account struct {
	Path        string           `json:"path"`
	Target      string           `json:"target"`
	Name        string           `json:"name"`
	Status      model.SyncStatus `json:"status"`
	Credentials []Credential     `json:"credentials"`
	LastAction  *model.Action    `json:"last_action,omitempty"`
	Created     time.Time        `json:"created"`
	// Allowed lists the account operations the caller holds on it, so
	// that a client offers only those (the server checks them anyway).
	Allowed []string `json:"allowed,omitempty"`
}

// AccountList answers GET /v1/accounts.
type AccountList struct {
	Accounts []Account `json:"accounts"`
	// Total is the number of accounts that match, over every page.
	Total int `json:"total,omitempty"`
}

// ResetRequest is the body of POST /v1/accounts/reset: Reset Credentials.
// Exactly one of Value and Generate is given. DatabaseOnly leaves the
// target alone; on an InSync account it also needs Force.
type ResetRequest struct {
	Path         string               `json:"path"`
	Type         model.CredentialType `json:"type"`
	Value        Secret               `json:"value"`
	Generate     bool                 `json:"generate,omitempty"`
	DatabaseOnly bool                 `json:"database_only,omitempty"`
	Force        bool                 `json:"force,omitempty"`
	// Reconcile changes the credential with the target's reconcile account
	// instead of the account's current credential.
	Reconcile bool `json:"reconcile,omitempty"`
	// WaitSeconds, from 1 to 50, holds the answer to a change on the
	// target until its job has ended or that many seconds have passed,
	// and answers with the job and the account as they are then: one
	// request where starting the job and waiting for it would take two.
	// Zero answers as soon as the job is handed to an agent.
	WaitSeconds int `json:"wait_seconds,omitempty"`
}

// UpdateRequest is the body of POST /v1/accounts/update: Update
// Credentials, recording in the database a value set by hand on the target.
type UpdateRequest struct {
	Path  string               `json:"path"`
	Type  model.CredentialType `json:"type"`
	Value Secret               `json:"value"`
	Force bool                 `json:"force,omitempty"`
}

// RestoreRequest is the body of POST /v1/accounts/restore.
type RestoreRequest struct {
	Path         string               `json:"path"`
	Type         model.CredentialType `json:"type"`
	Revision     uint64               `json:"revision"`
	DatabaseOnly bool                 `json:"database_only,omitempty"`
	Force        bool                 `json:"force,omitempty"`
}

// JobResponse answers the requests that start a job.
type JobResponse struct {
	Job      *model.Job `json:"job"`
	Account  Account    `json:"account"`
	Warnings []string   `json:"warnings,omitempty"`
}

// CheckoutRequest is the body of POST /v1/accounts/checkout. A non-zero
// ForSeconds makes the checkout exclusive for that long.
type CheckoutRequest struct {
	Path       string               `json:"path"`
	Type       model.CredentialType `json:"type"`
	ForSeconds int64                `json:"for_seconds,omitempty"`
	Reason     string               `json:"reason,omitempty"`
}

// CheckoutResponse answers a checkout with the credential's value.
type CheckoutResponse struct {
	Path     string               `json:"path"`
	Type     model.CredentialType `json:"type"`
	Version  uint64               `json:"version"`
	Value    string               `json:"value"`
	Checkout *model.Checkout      `json:"checkout,omitempty"`
}

// CheckinRequest is the body of POST /v1/accounts/checkin. An empty Type
// checks in every credential of the account.
type CheckinRequest struct {
	Path string               `json:"path"`
	Type model.CredentialType `json:"type,omitempty"`
}

// Revision describes one version of a credential, never its value.
type Revision struct {
	N          uint64           `json:"n"`
	Created    time.Time        `json:"created"`
	CreatedBy  string           `json:"created_by"`
	Source     string           `json:"source"`
	Compliance model.Compliance `json:"compliance"`
	Current    bool             `json:"current,omitempty"`
	Pending    bool             `json:"pending,omitempty"`
}

// RevisionList answers GET /v1/accounts/revisions.
type RevisionList struct {
	Revisions []Revision `json:"revisions"`
}

// PolicyList answers GET /v1/policies.
type PolicyList struct {
	Policies []policy.Policy `json:"policies"`
}

// JobList answers GET /v1/jobs.
type JobList struct {
	Jobs []*model.Job `json:"jobs"`
}

// UserCreateRequest is the body of POST /v1/users.
type UserCreateRequest struct {
	Name     string   `json:"name"`
	Password Secret   `json:"password"`
	Groups   []string `json:"groups,omitempty"`
}

// User describes a user.
type User struct {
	Name    string    `json:"name"`
	Groups  []string  `json:"groups,omitempty"`
	Created time.Time `json:"created"`
}

// UserList answers GET /v1/users.
type UserList struct {
	Users []User `json:"users"`
}

// GrantRequest is the body of POST /v1/permissions/grant and /revoke. To is
// a user name or a group written "@group".
type GrantRequest struct {
	Path string   `json:"path"`
	To   string   `json:"to"`
	Ops  []string `json:"ops"`
}

// Grant describes the operations a principal holds on a path.
type Grant struct {
	Path      string   `json:"path"`
	Principal string   `json:"principal"`
	Ops       []string `json:"ops"`
}

// GrantList answers GET /v1/permissions.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

// AuditList answers GET /v1/audit.
type AuditList struct {
	Records []audit.Record `json:"records"`
}

// AuditVerify answers GET /v1/audit/verify.
type AuditVerify struct {
	OK      bool   `json:"ok"`
	Records uint64 `json:"records"`
	Problem string `json:"problem,omitempty"`
}
