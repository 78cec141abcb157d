package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/service"
)

type (
	caller  = service.Caller
	nameReq = api.NameRequest
)

func (h *Handler) routes() {
	m, s := h.mux, h.svc
	m.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /v1/login", h.login)
	m.HandleFunc("POST /v1/session", h.startSession)
	m.Handle("GET /v1/session", h.authed("session.show", h.showSession))
	m.Handle("POST /v1/session/end", h.authed("session.end", h.endSession))

	m.Handle("GET /v1/vault/status", h.get("vault.status", func(c *caller, _ queryArgs) (any, error) {
		return s.VaultStatus(c)
	}))
	m.Handle("POST /v1/vault/open", rpc(h, "vault.open", s.OpenVault))
	m.Handle("POST /v1/vault/close", post(h, "vault.close", func(c *caller, _ *struct{}) (any, error) {
		return api.VaultStatus{Open: false}, s.CloseVault(c)
	}))
	m.Handle("GET /v1/vault/keys", h.get("vault.key.list", func(c *caller, _ queryArgs) (any, error) {
		return s.ListVaultKeys(c)
	}))
	m.Handle("POST /v1/vault/keys", rpc(h, "vault.key.add", s.AddVaultKey))
	m.Handle("POST /v1/vault/keys/remove", post(h, "vault.key.remove", func(c *caller, r *nameReq) (any, error) {
		return struct{}{}, s.RemoveVaultKey(c, r.Name)
	}))

	m.Handle("POST /v1/folders", post(h, "folder.create", func(c *caller, r *api.PathRequest) (any, error) {
		return s.CreateFolder(c, r.Path)
	}))
	m.Handle("GET /v1/folders", h.get("folder.list", func(c *caller, q queryArgs) (any, error) {
		return s.ListFolders(c, q.get("path"))
	}))
	m.Handle("POST /v1/folders/delete", post(h, "folder.delete", func(c *caller, r *api.PathRequest) (any, error) {
		return struct{}{}, s.DeleteFolder(c, r.Path)
	}))

	m.Handle("POST /v1/targets", rpc(h, "target.create", s.CreateTarget))
	m.Handle("GET /v1/targets", h.get("target.list", func(c *caller, q queryArgs) (any, error) {
		return s.ListTargets(c, q.get("path"))
	}))
	m.Handle("GET /v1/targets/show", h.get("target.show", func(c *caller, q queryArgs) (any, error) {
		return s.ShowTarget(c, q.get("path"))
	}))
	m.Handle("POST /v1/targets/delete", post(h, "target.delete", func(c *caller, r *api.PathRequest) (any, error) {
		return struct{}{}, s.DeleteTarget(c, r.Path)
	}))

	h.accountRoutes()
	h.adminRoutes()

	m.HandleFunc("/v1/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "no such API endpoint"))
	})
}

func (h *Handler) accountRoutes() {
	m, s := h.mux, h.svc
	m.Handle("POST /v1/accounts", rpc(h, "account.create", s.CreateAccount))
	m.Handle("GET /v1/accounts", h.get("account.list", func(c *caller, q queryArgs) (any, error) {
		f := service.AccountFilter{Folder: q.get("folder"), Target: q.get("target"),
			Status: model.SyncStatus(q.get("status")), Query: q.get("q")}
		var err error
		if f.Limit, err = q.count("limit"); err != nil {
			return nil, err
		}
		if f.Offset, err = q.count("offset"); err != nil {
			return nil, err
		}
		return s.ListAccounts(c, f)
	}))
	m.Handle("GET /v1/accounts/show", h.get("account.show", func(c *caller, q queryArgs) (any, error) {
		return s.ShowAccount(c, q.get("path"))
	}))
	m.Handle("POST /v1/accounts/reset", postContext(h, "account.reset",
		func(ctx context.Context, c *caller, r *api.ResetRequest) (any, error) { return s.Reset(ctx, c, r) }))
	m.Handle("POST /v1/accounts/update", rpc(h, "account.update", s.Update))
	m.Handle("POST /v1/accounts/restore", rpc(h, "account.restore", s.Restore))
	m.Handle("POST /v1/accounts/checkout", rpc(h, "account.checkout", s.Checkout))
	m.Handle("POST /v1/accounts/checkin", rpc(h, "account.checkin", s.Checkin))
	m.Handle("POST /v1/accounts/check", rpc(h, "account.check", s.Check))
	m.Handle("GET /v1/accounts/revisions", h.get("account.revisions", func(c *caller, q queryArgs) (any, error) {
		return s.Revisions(c, q.get("path"), model.CredentialType(q.get("type")))
	}))
}

func (h *Handler) adminRoutes() {
	m, s := h.mux, h.svc
	m.Handle("POST /v1/policies", rpc(h, "policy.create", s.CreatePolicy))
	m.Handle("GET /v1/policies", h.get("policy.list", func(c *caller, _ queryArgs) (any, error) {
		return s.ListPolicies(c)
	}))
	m.Handle("GET /v1/policies/{name}", h.get("policy.show", func(c *caller, q queryArgs) (any, error) {
		return s.ShowPolicy(c, q.path("name"))
	}))
	m.Handle("GET /v1/jobs", h.get("job.list", func(c *caller, q queryArgs) (any, error) {
		return s.ListJobs(c, model.JobState(q.get("state")))
	}))
	m.Handle("GET /v1/jobs/{id}", h.get("job.show", func(c *caller, q queryArgs) (any, error) {
		return s.ShowJob(c, q.path("id"))
	}))
	m.Handle("GET /v1/jobs/{id}/wait", h.authed("job.wait", h.waitJob))
	m.Handle("POST /v1/users", rpc(h, "user.create", s.CreateUser))
	m.Handle("GET /v1/users", h.get("user.list", func(c *caller, _ queryArgs) (any, error) {
		return s.ListUsers(c)
	}))
	m.Handle("POST /v1/users/delete", post(h, "user.delete", func(c *caller, r *nameReq) (any, error) {
		return struct{}{}, s.DeleteUser(c, r.Name)
	}))
	m.Handle("POST /v1/permissions/grant", rpc(h, "permission.grant", s.Grant))
	m.Handle("POST /v1/permissions/revoke", rpc(h, "permission.revoke", s.Revoke))
	m.Handle("GET /v1/permissions", h.get("permission.list", func(c *caller, q queryArgs) (any, error) {
		return s.ListGrants(c, q.get("path"))
	}))
	m.Handle("POST /v1/agents/tokens", rpc(h, "agent.token.create", s.CreateAgentToken))
	m.HandleFunc("POST /v1/agents/enroll", h.enroll)
	m.Handle("GET /v1/agents/nats-config", h.get("agent.nats_config", func(c *caller, _ queryArgs) (any, error) {
		return s.NATSAuthorization(c, h.natsKey)
	}))
	m.Handle("GET /v1/agents", h.get("agent.list", func(c *caller, _ queryArgs) (any, error) {
		return s.ListAgents(c)
	}))
	m.Handle("GET /v1/audit", h.get("audit.list", h.listAudit))
	m.Handle("GET /v1/audit/verify", h.get("audit.verify", func(c *caller, _ queryArgs) (any, error) {
		return s.VerifyAudit(c)
	}))
}

func (h *Handler) listAudit(c *caller, q queryArgs) (any, error) {
	f := service.AuditFilter{Path: q.get("path")}
	if v := q.get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidArgument, "since %q is not an RFC 3339 time", v)
		}
		f.Since = t
	}
	n, err := q.count("limit")
	if err != nil {
		return nil, err
	}
	f.Limit = n
	return h.svc.ListAudit(c, f)
}

// login needs no token: it is how a user gets one.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	req := new(api.LoginRequest)
	if err := decode(w, r, req); err != nil {
		h.svc.Refused("", "login", err.(*api.Error))
		writeError(w, err)
		return
	}
	v, err := h.svc.Login(req)
	respond(w, v, err)
}

// enroll needs no API token: the one-time enrollment token in the body is
// the credential.
func (h *Handler) enroll(w http.ResponseWriter, r *http.Request) {
	req := new(api.EnrollRequest)
	if err := decode(w, r, req); err != nil {
		h.svc.Refused("", "agent.enroll", err.(*api.Error))
		writeError(w, err)
		return
	}
	v, err := h.svc.Enroll(r.Context(), req)
	respond(w, v, err)
}

// waitJob answers once a job has ended, or after ?timeout= (default 30s).
func (h *Handler) waitJob(w http.ResponseWriter, r *http.Request, c *caller) {
	wait := 30 * time.Second
	if v := r.URL.Query().Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			writeError(w, api.Errorf(api.CodeInvalidArgument, "timeout %q is not a duration", v))
			return
		}
		wait = d
	}
	j, err := h.svc.WaitJob(r.Context(), c, r.PathValue("id"), wait)
	respond(w, j, err)
}
