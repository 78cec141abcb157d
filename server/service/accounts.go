package service

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// account is an account loaded with its credentials, and its status as it
// was loaded, so that save can move it in the status index.
type account struct {
	ch     chain
	node   *model.Node
	creds  map[model.CredentialType]*model.Credential
	before model.SyncStatus
}

func loadAccount(g getter, ch chain) (*account, error) {
	a := &account{ch: ch, node: ch.leaf(), creds: map[model.CredentialType]*model.Credential{}}
	for _, t := range a.node.Credentials {
		cr := new(model.Credential)
		if err := g.Get(store.CredentialKey(a.node.ID, t), cr); err != nil {
			return nil, fmt.Errorf("reading credential %s of %s: %w", t, a.node.ID, err)
		}
		a.creds[t] = cr
	}
	a.before = a.status()
	return a, nil
}

// list returns the credentials in display order.
func (a *account) list() []*model.Credential {
	var out []*model.Credential
	for _, t := range model.CredentialTypes {
		if c, ok := a.creds[t]; ok {
			out = append(out, c)
		}
	}
	return out
}

func (a *account) status() model.SyncStatus { return model.AccountStatus(a.list()) }

// credential returns the credential of type t, or a refusal naming the
// types the account has.
func (a *account) credential(t model.CredentialType) (*model.Credential, error) {
	if _, err := model.ParseCredentialType(string(t)); err != nil {
		return nil, api.Errorf(api.CodeInvalidType, "%v", err)
	}
	c, ok := a.creds[t]
	if !ok {
		return nil, api.Errorf(api.CodeNoCredential, "account %q has no %s credential (it has %v)",
			a.ch.path(), t, a.node.Credentials)
	}
	return c, nil
}

// save stages the account, its credentials and its status index entry.
func (a *account) save(tx *store.Tx) error {
	if err := tx.Put(store.NodeKey(a.node.ID), a.node); err != nil {
		return err
	}
	for _, c := range a.creds {
		if err := tx.Put(store.CredentialKey(a.node.ID, c.Type), c); err != nil {
			return err
		}
	}
	after := a.status()
	if after == a.before {
		return nil
	}
	if a.before != "" {
		if err := tx.Delete(store.StatusKey(a.before, a.node.ID)); err != nil {
			return err
		}
	}
	return tx.PutRaw(store.StatusKey(after, a.node.ID), nil)
}

// policyOf returns the policy that governs credential type t of node. It
// reads policies from the store's cache, not through a transaction: a
// write that uses a policy does not conflict with a change of the policy,
// which applies from the next write on.
func (s *Service) policyOf(node *model.Node, t model.CredentialType) (*policy.Policy, error) {
	name := node.Policies[t]
	if name == "" {
		name = policy.Default(t).Name
	}
	p := new(policy.Policy)
	if err := s.st.Get(store.PolicyKey(name), p); err != nil {
		return nil, fmt.Errorf("reading policy %s: %w", name, err)
	}
	return p, nil
}

// newVersion seals value as the next version of cr and stages it. It sets
// the credential's compliance from the value and returns the violations.
func (s *Service) newVersion(tx *store.Tx, a *account, cr *model.Credential, value secret.Value,
	v model.Version) (uint64, []string, error) {
	p, err := s.policyOf(a.node, cr.Type)
	if err != nil {
		return 0, nil, err
	}
	violations := p.Check(value)
	v.Compliant = model.Compliant
	if len(violations) > 0 {
		v.Compliant = model.Noncompliant
	}
	cr.Last++
	v.N = cr.Last
	v.Created = s.now()
	v.Sealed, err = s.vault.Seal(vault.CredentialAD(a.node.ID, cr.Type, v.N), value)
	if err != nil {
		return 0, nil, vaultError(err)
	}
	if err := tx.Put(store.VersionKey(a.node.ID, cr.Type, v.N), v); err != nil {
		return 0, nil, err
	}
	return v.N, violations, nil
}

// makeCurrent records version n as the credential's current value.
func makeCurrent(cr *model.Credential, n uint64, violations []string) {
	cr.Current = n
	cr.Compliance = model.Compliant
	if len(violations) > 0 {
		cr.Compliance = model.Noncompliant
	}
	cr.Violations = violations
}

// warnings turns policy violations of a stored value into warnings.
func warnings(t model.CredentialType, violations []string) []string {
	var out []string
	for _, v := range violations {
		out = append(out, fmt.Sprintf("the %s breaks its policy: %s; it is stored as Noncompliant", t, v))
	}
	return out
}

// checkValue returns invalid_value unless v is a credential of type t.
func checkValue(t model.CredentialType, v secret.Value) error {
	if err := policy.CheckFormat(t, v); err != nil {
		return api.Errorf(api.CodeInvalidValue, "%v", err)
	}
	return nil
}

// valueOf returns the typed value, or one generated from the policy of
// credential t of node.
func (s *Service) valueOf(node *model.Node, t model.CredentialType, typed secret.Value,
	generate bool) (secret.Value, error) {
	switch {
	case generate && !typed.IsEmpty():
		return secret.Value{}, api.Errorf(api.CodeInvalidArgument,
			"give a value or ask to generate one, not both")
	case generate:
		p, err := s.policyOf(node, t)
		if err != nil {
			return secret.Value{}, err
		}
		return p.Generate()
	case typed.IsEmpty():
		return secret.Value{}, api.Errorf(api.CodeInvalidArgument,
			"no value given; type one or ask to generate one")
	}
	return typed, checkValue(t, typed)
}

// CreateAccount creates an account on a target with its credentials. It
// needs create on the target.
func (s *Service) CreateAccount(c *Caller, req *api.AccountCreateRequest) (*api.JobResponse, error) {
	out := &api.JobResponse{}
	err := s.write(event(c, "account.create", req.Path), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		parent, name, err := s.lookupParent(tx, c, model.KindAccount, req.Path)
		if err != nil {
			return err
		}
		n, err := s.accountNode(tx, parent, name, req.Credentials)
		if err != nil {
			return err
		}
		if err := addNode(tx, n); err != nil {
			return err
		}
		a := &account{ch: append(parent, n), node: n, creds: map[model.CredentialType]*model.Credential{}}
		for _, spec := range req.Credentials {
			w, err := s.addCredential(tx, c, a, spec)
			if err != nil {
				return err
			}
			out.Warnings = append(out.Warnings, w...)
		}
		out.Account = accountView(a)
		return a.save(tx)
	})
	return out, err
}

// accountNode validates the credential specs of a new account and returns
// its node.
func (s *Service) accountNode(g getter, parent chain, name string, specs []api.CredentialSpec) (*model.Node, error) {
	if len(specs) == 0 {
		return nil, api.Errorf(api.CodeInvalidArgument,
			"an account needs at least one credential (password, ssh-key or pin)")
	}
	n := &model.Node{ID: model.NewID(), Kind: model.KindAccount, ParentID: parent.leaf().ID,
		Name: name, Created: s.now(), Policies: map[model.CredentialType]string{}}
	for _, spec := range specs {
		if _, err := model.ParseCredentialType(string(spec.Type)); err != nil {
			return nil, api.Errorf(api.CodeInvalidType, "%v", err)
		}
		if slices.Contains(n.Credentials, spec.Type) {
			return nil, api.Errorf(api.CodeInvalidArgument, "credential type %s given twice", spec.Type)
		}
		if spec.Policy != "" {
			if err := checkPolicyRef(g, spec.Policy, spec.Type); err != nil {
				return nil, err
			}
			n.Policies[spec.Type] = spec.Policy
		}
		n.Credentials = append(n.Credentials, spec.Type)
	}
	slices.SortFunc(n.Credentials, func(a, b model.CredentialType) int {
		return slices.Index(model.CredentialTypes, a) - slices.Index(model.CredentialTypes, b)
	})
	return n, nil
}

// addCredential stages a new credential of a new account, with its first
// value if one was given.
func (s *Service) addCredential(tx *store.Tx, c *Caller, a *account, spec api.CredentialSpec) ([]string, error) {
	cr := &model.Credential{AccountID: a.node.ID, Type: spec.Type, Status: model.Unknown,
		Reason: "never_checked", Compliance: model.Noncompliant, Violations: []string{"no value stored yet"}}
	a.creds[spec.Type] = cr
	if spec.Value.IsEmpty() && !spec.Generate {
		return nil, nil
	}
	value, err := s.valueOf(a.node, spec.Type, spec.Value.Value, spec.Generate)
	if err != nil {
		return nil, err
	}
	source := "typed"
	if spec.Generate {
		source = "generated"
	}
	n, violations, err := s.newVersion(tx, a, cr, value, model.Version{CreatedBy: c.User, Source: source})
	if err != nil {
		return nil, err
	}
	makeCurrent(cr, n, violations)
	cr.ChangedAt = s.now()
	return warnings(spec.Type, violations), nil
}

// accountView describes an account for the API.
func accountView(a *account) api.Account {
	out := api.Account{Path: a.ch.path(), Target: a.ch[:len(a.ch)-1].path(), Name: a.node.Name,
		Status: a.status(), LastAction: a.node.LastAction, Created: a.node.Created,
		Credentials: []api.Credential{}}
	for _, cr := range a.list() {
		pol := a.node.Policies[cr.Type]
		if pol == "" {
			pol = policy.Default(cr.Type).Name
		}
		out.Credentials = append(out.Credentials, api.Credential{
			Type: cr.Type, Policy: pol, Status: cr.Status, Reason: cr.Reason,
			CheckedAt: cr.CheckedAt, ChangedAt: cr.ChangedAt, Compliance: cr.Compliance,
			Violations: cr.Violations, Version: cr.Current, Pending: cr.Pending,
			PendingJob: cr.PendingJob, Checkout: cr.Checkout,
		})
	}
	return out
}

// ShowAccount describes one account. It needs read on it.
func (s *Service) ShowAccount(c *Caller, path string) (*api.Account, error) {
	var out api.Account
	err := s.read(event(c, "account.show", path), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookup(s.st, c, model.KindAccount, path, auth.OpRead)
		if err != nil {
			return err
		}
		a, err := loadAccount(s.st, ch)
		if err != nil {
			return err
		}
		out = accountView(a)
		out.Allowed, err = accountOps(s.st, c, ch)
		return err
	})
	return &out, err
}

// AccountFilter selects accounts to list.
type AccountFilter struct {
	// Folder limits the list to accounts under a folder; empty is all.
	Folder string
	// Target limits the list to one target's accounts.
	Target string
	// Status limits the list to accounts with that status.
	Status model.SyncStatus
	// Query keeps the accounts whose path contains it, ignoring case.
	Query string
	// Limit, when above zero, keeps one page of at most Limit accounts
	// from Offset on, in tree order; zero keeps every match.
	Limit, Offset int
}

// MaxPage is the most accounts one page of a list holds.
const MaxPage = 500

// ListAccounts lists the accounts the caller may read that match f.
func (s *Service) ListAccounts(c *Caller, f AccountFilter) (*api.AccountList, error) {
	out := &api.AccountList{Accounts: []api.Account{}}
	err := s.read(event(c, "account.list", f.Target+f.Folder), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if f.Status != "" && !slices.Contains(model.SyncStatuses, f.Status) {
			return api.Errorf(api.CodeInvalidArgument,
				"unknown status %q (want InSync, NotInSync, Unknown or Changing)", f.Status)
		}
		if f.Limit < 0 || f.Limit > MaxPage || f.Offset < 0 {
			return api.Errorf(api.CodeInvalidArgument, "limit must be 1 to %d and offset 0 or more", MaxPage)
		}
		if f.Status != "" && f.Folder == "" && f.Target == "" && f.Query == "" && f.Limit == 0 {
			return s.listByStatus(c, f.Status, out)
		}
		return s.pageAccounts(c, f, out)
	})
	return out, err
}

// pageAccounts answers a filtered list, or one page of it. It walks the
// tree on nodes alone, which the store's cache holds, and loads the
// credentials of the listed accounts only; a status filter reads the
// status index first, so that the walk never loads an account to learn its
// status.
func (s *Service) pageAccounts(c *Caller, f AccountFilter, out *api.AccountList) error {
	var inStatus map[string]bool
	if f.Status != "" {
		inStatus = map[string]bool{}
		prefix := store.StatusPrefix(f.Status)
		err := s.st.Scan(prefix, func(k, _ []byte) error {
			inStatus[string(k[len(prefix):])] = true
			return nil
		})
		if err != nil {
			return err
		}
	}
	limit := f.Limit
	if limit == 0 {
		limit = math.MaxInt
	}
	query := strings.ToLower(f.Query)
	kind, path := model.KindFolder, f.Folder
	if f.Target != "" {
		kind, path = model.KindTarget, f.Target
	}
	var page []chain
	err := s.eachTarget(c, kind, path, func(target chain) error {
		kids, err := children(s.st, target.leaf().ID)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if inStatus != nil && !inStatus[k.ID] {
				continue
			}
			ch := append(target[:len(target):len(target)], k)
			if query != "" && !strings.Contains(strings.ToLower(ch.path()), query) {
				continue
			}
			if ok, err := allowed(s.st, c, ch, auth.OpRead); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			if out.Total >= f.Offset && len(page) < limit {
				page = append(page, ch)
			}
			out.Total++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ch := range page {
		a, err := loadAccount(s.st, ch)
		if err != nil {
			return err
		}
		v := accountView(a)
		if v.Allowed, err = accountOps(s.st, c, ch); err != nil {
			return err
		}
		out.Accounts = append(out.Accounts, v)
	}
	return nil
}

// accountActions are the operations a client offers on an account.
var accountActions = []auth.Op{auth.OpCheck, auth.OpCheckOut, auth.OpCheckIn, auth.OpReset,
	auth.OpUpdateCredentials, auth.OpReadRevisions, auth.OpRestore}

// accountOps lists the account actions the caller holds on ch, reading each
// grant along the chain once.
func accountOps(g getter, c *Caller, ch chain) ([]string, error) {
	held := map[string]bool{}
	err := eachGrant(g, c, ch, func(gr *model.Grant) bool {
		for _, op := range gr.Ops {
			held[op] = true
		}
		return true
	})
	out := []string{}
	for _, op := range accountActions {
		if held[string(op)] {
			out = append(out, string(op))
		}
	}
	return out, err
}

// listByStatus lists the accounts with a status through the status index,
// in path order, without walking the tree.
func (s *Service) listByStatus(c *Caller, status model.SyncStatus, out *api.AccountList) error {
	prefix := store.StatusPrefix(status)
	var ids []string
	err := s.st.Scan(prefix, func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix):]))
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		ch, err := chainOf(s.st, id)
		if errNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if ok, err := allowed(s.st, c, ch, auth.OpRead); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		a, err := loadAccount(s.st, ch)
		if err != nil {
			return err
		}
		if a.status() == status {
			out.Accounts = append(out.Accounts, accountView(a))
		}
	}
	slices.SortFunc(out.Accounts, func(x, y api.Account) int { return strings.Compare(x.Path, y.Path) })
	out.Total = len(out.Accounts)
	return nil
}
