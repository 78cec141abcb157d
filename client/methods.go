package client

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
)

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func call[T any](c *Client, method, path string, query url.Values, body any) (*T, error) {
	out := new(T)
	if err := c.do(method, path, query, body, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Health reports whether the server answers.
func (c *Client) Health() error { return c.do(http.MethodGet, "/v1/health", nil, nil, nil) }

// Login exchanges a user's password for a new API token.
func (c *Client) Login(req *api.LoginRequest) (*api.LoginResponse, error) {
	return call[api.LoginResponse](c, http.MethodPost, "/v1/login", nil, req)
}

// VaultStatus says whether the vault is open.
func (c *Client) VaultStatus() (*api.VaultStatus, error) {
	return call[api.VaultStatus](c, http.MethodGet, "/v1/vault/status", nil, nil)
}

// OpenVault opens the vault with a vault key.
func (c *Client) OpenVault(req *api.VaultOpenRequest) (*api.VaultOpenResponse, error) {
	return call[api.VaultOpenResponse](c, http.MethodPost, "/v1/vault/open", nil, req)
}

// CloseVault closes the vault.
func (c *Client) CloseVault() error {
	return c.do(http.MethodPost, "/v1/vault/close", nil, struct{}{}, nil)
}

// ListVaultKeys lists the vault keys' names.
func (c *Client) ListVaultKeys() (*api.VaultKeyList, error) {
	return call[api.VaultKeyList](c, http.MethodGet, "/v1/vault/keys", nil, nil)
}

// AddVaultKey adds a vault key.
func (c *Client) AddVaultKey(req *api.VaultKeyAddRequest) (*api.VaultKeyAddResponse, error) {
	return call[api.VaultKeyAddResponse](c, http.MethodPost, "/v1/vault/keys", nil, req)
}

// RemoveVaultKey removes a vault key.
func (c *Client) RemoveVaultKey(name string) error {
	return c.do(http.MethodPost, "/v1/vault/keys/remove", nil, api.NameRequest{Name: name}, nil)
}

// CreateFolder creates a folder.
func (c *Client) CreateFolder(path string) (*api.Folder, error) {
	return call[api.Folder](c, http.MethodPost, "/v1/folders", nil, api.PathRequest{Path: path})
}

// ListFolders lists the folders under path.
func (c *Client) ListFolders(path string) (*api.FolderList, error) {
	return call[api.FolderList](c, http.MethodGet, "/v1/folders", q("path", path), nil)
}

// DeleteFolder deletes an empty folder.
func (c *Client) DeleteFolder(path string) error {
	return c.do(http.MethodPost, "/v1/folders/delete", nil, api.PathRequest{Path: path}, nil)
}

// CreateTarget creates a target.
func (c *Client) CreateTarget(req *api.TargetCreateRequest) (*api.Target, error) {
	return call[api.Target](c, http.MethodPost, "/v1/targets", nil, req)
}

// ListTargets lists the targets under a folder.
func (c *Client) ListTargets(folder string) (*api.TargetList, error) {
	return call[api.TargetList](c, http.MethodGet, "/v1/targets", q("path", folder), nil)
}

// ShowTarget describes a target.
func (c *Client) ShowTarget(path string) (*api.Target, error) {
	return call[api.Target](c, http.MethodGet, "/v1/targets/show", q("path", path), nil)
}

// DeleteTarget deletes a target without accounts.
func (c *Client) DeleteTarget(path string) error {
	return c.do(http.MethodPost, "/v1/targets/delete", nil, api.PathRequest{Path: path}, nil)
}

// CreateAccount creates an account.
func (c *Client) CreateAccount(req *api.AccountCreateRequest) (*api.JobResponse, error) {
	return call[api.JobResponse](c, http.MethodPost, "/v1/accounts", nil, req)
}

// ListAccounts lists accounts, filtered by folder, target and status.
func (c *Client) ListAccounts(folder, target string, status model.SyncStatus) (*api.AccountList, error) {
	return call[api.AccountList](c, http.MethodGet, "/v1/accounts",
		q("folder", folder, "target", target, "status", string(status)), nil)
}

// PageAccounts lists one page of the accounts under folder whose path
// contains query, ignoring case, and that have status when it is set: at
// most limit accounts from offset on, with the total count of matches.
func (c *Client) PageAccounts(folder, query string, status model.SyncStatus, limit, offset int) (*api.AccountList,
	error) {
	return call[api.AccountList](c, http.MethodGet, "/v1/accounts", q("folder", folder, "q", query,
		"status", string(status), "limit", strconv.Itoa(limit), "offset", strconv.Itoa(offset)), nil)
}

// ShowAccount describes an account.
func (c *Client) ShowAccount(path string) (*api.Account, error) {
	return call[api.Account](c, http.MethodGet, "/v1/accounts/show", q("path", path), nil)
}

// Reset runs Reset Credentials.
func (c *Client) Reset(req *api.ResetRequest) (*api.JobResponse, error) {
	return call[api.JobResponse](c, http.MethodPost, "/v1/accounts/reset", nil, req)
}

// Update runs Update Credentials.
func (c *Client) Update(req *api.UpdateRequest) (*api.JobResponse, error) {
	return call[api.JobResponse](c, http.MethodPost, "/v1/accounts/update", nil, req)
}

// Restore brings back a revision.
func (c *Client) Restore(req *api.RestoreRequest) (*api.JobResponse, error) {
	return call[api.JobResponse](c, http.MethodPost, "/v1/accounts/restore", nil, req)
}

// Checkout returns a credential's current value.
func (c *Client) Checkout(req *api.CheckoutRequest) (*api.CheckoutResponse, error) {
	return call[api.CheckoutResponse](c, http.MethodPost, "/v1/accounts/checkout", nil, req)
}

// Checkin ends exclusive checkouts of an account.
func (c *Client) Checkin(req *api.CheckinRequest) (*api.Account, error) {
	return call[api.Account](c, http.MethodPost, "/v1/accounts/checkin", nil, req)
}

// Revisions lists the versions of a credential.
func (c *Client) Revisions(path string, t model.CredentialType) (*api.RevisionList, error) {
	return call[api.RevisionList](c, http.MethodGet, "/v1/accounts/revisions",
		q("path", path, "type", string(t)), nil)
}

// CreatePolicy stores a policy.
func (c *Client) CreatePolicy(p *policy.Policy) (*policy.Policy, error) {
	return call[policy.Policy](c, http.MethodPost, "/v1/policies", nil, p)
}

// ListPolicies lists the policies.
func (c *Client) ListPolicies() (*api.PolicyList, error) {
	return call[api.PolicyList](c, http.MethodGet, "/v1/policies", nil, nil)
}

// ShowPolicy returns a policy.
func (c *Client) ShowPolicy(name string) (*policy.Policy, error) {
	return call[policy.Policy](c, http.MethodGet, "/v1/policies/"+url.PathEscape(name), nil, nil)
}

// ListJobs lists jobs, in a state if given.
func (c *Client) ListJobs(state model.JobState) (*api.JobList, error) {
	return call[api.JobList](c, http.MethodGet, "/v1/jobs", q("state", string(state)), nil)
}

// ShowJob returns a job.
func (c *Client) ShowJob(id string) (*model.Job, error) {
	return call[model.Job](c, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, nil)
}

// CreateUser adds a local user.
func (c *Client) CreateUser(req *api.UserCreateRequest) (*api.User, error) {
	return call[api.User](c, http.MethodPost, "/v1/users", nil, req)
}

// ListUsers lists the local users.
func (c *Client) ListUsers() (*api.UserList, error) {
	return call[api.UserList](c, http.MethodGet, "/v1/users", nil, nil)
}

// DeleteUser removes a user.
func (c *Client) DeleteUser(name string) error {
	return c.do(http.MethodPost, "/v1/users/delete", nil, api.NameRequest{Name: name}, nil)
}

// Grant adds operations to a grant.
func (c *Client) Grant(req *api.GrantRequest) (*api.Grant, error) {
	return call[api.Grant](c, http.MethodPost, "/v1/permissions/grant", nil, req)
}

// Revoke removes operations from a grant.
func (c *Client) Revoke(req *api.GrantRequest) (*api.Grant, error) {
	return call[api.Grant](c, http.MethodPost, "/v1/permissions/revoke", nil, req)
}

// ListGrants lists the grants that apply on a path.
func (c *Client) ListGrants(path string) (*api.GrantList, error) {
	return call[api.GrantList](c, http.MethodGet, "/v1/permissions", q("path", path), nil)
}

// ListAudit lists audit records.
func (c *Client) ListAudit(path string, since time.Time, limit int) (*api.AuditList, error) {
	v := q("path", path)
	if !since.IsZero() {
		v.Set("since", since.Format(time.RFC3339))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return call[api.AuditList](c, http.MethodGet, "/v1/audit", v, nil)
}

// VerifyAudit checks the audit chain.
func (c *Client) VerifyAudit() (*api.AuditVerify, error) {
	return call[api.AuditVerify](c, http.MethodGet, "/v1/audit/verify", nil, nil)
}

// Raw sends a request with a raw body, for tests of the API's input
// handling.
func (c *Client) Raw(method, path string, body []byte) error {
	var b any
	if body != nil {
		b = rawBody(body)
	}
	return c.do(method, path, nil, b, nil)
}

// Check runs Check Credentials.
func (c *Client) Check(req *api.CheckRequest) (*api.CheckResponse, error) {
	return call[api.CheckResponse](c, http.MethodPost, "/v1/accounts/check", nil, req)
}

// CreateAgentToken makes a one-time enrollment token.
func (c *Client) CreateAgentToken(req *api.AgentTokenRequest) (*api.AgentToken, error) {
	return call[api.AgentToken](c, http.MethodPost, "/v1/agents/tokens", nil, req)
}

// ListAgents lists the enrolled agents.
func (c *Client) ListAgents() (*api.AgentList, error) {
	return call[api.AgentList](c, http.MethodGet, "/v1/agents", nil, nil)
}

// Enroll registers an agent with a one-time token; it needs no API token.
func (c *Client) Enroll(req *api.EnrollRequest) (*api.EnrollResponse, error) {
	return call[api.EnrollResponse](c, http.MethodPost, "/v1/agents/enroll", nil, req)
}

// NATSConfig returns the authorization block for an external NATS server.
func (c *Client) NATSConfig() (*api.NATSConfig, error) {
	return call[api.NATSConfig](c, http.MethodGet, "/v1/agents/nats-config", nil, nil)
}

// WaitJob returns a job once it has ended, or as it is after timeout.
func (c *Client) WaitJob(id string, timeout time.Duration) (*model.Job, error) {
	return call[model.Job](c, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/wait",
		q("timeout", timeout.String()), nil)
}
