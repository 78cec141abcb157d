package service

import (
	"errors"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
	"github.com/passman-dev/passman/server/store"
)

// checkPolicyRef refuses a policy name that does not exist or governs
// another credential type.
func checkPolicyRef(g getter, name string, t model.CredentialType) error {
	var p policy.Policy
	if err := g.Get(store.PolicyKey(name), &p); err != nil {
		if errNotFound(err) {
			return api.Errorf(api.CodeNotFound, "no policy %q", name)
		}
		return err
	}
	if p.Type != t {
		return api.Errorf(api.CodeInvalidPolicy, "policy %q is for %s, not %s", name, p.Type, t)
	}
	return nil
}

// CreatePolicy stores a new policy. It needs update on the vault.
func (s *Service) CreatePolicy(c *Caller, p *policy.Policy) (*policy.Policy, error) {
	err := s.write(event(c, "policy.create", ""), func(tx *store.Tx, ev *audit.Record) error {
		ev.Detail = "policy " + p.Name
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := s.authorizeRoot(tx, c, auth.OpUpdate); err != nil {
			return err
		}
		if err := checkName("policy", p.Name); err != nil {
			return err
		}
		if err := p.Validate(); err != nil {
			if errors.Is(err, policy.ErrInvalidPolicy) {
				return api.Errorf(api.CodeInvalidPolicy, "%v", err)
			}
			return err
		}
		if ok, err := tx.Has(store.PolicyKey(p.Name)); err != nil || ok {
			return errors.Join(err, api.Errorf(api.CodeAlreadyExists, "policy %q exists", p.Name))
		}
		return tx.Put(store.PolicyKey(p.Name), p)
	})
	return p, err
}

// ListPolicies lists every policy. Policies hold no secret; any caller may
// read them while the vault is open.
func (s *Service) ListPolicies(c *Caller) (*api.PolicyList, error) {
	out := &api.PolicyList{Policies: []policy.Policy{}}
	err := s.read(event(c, "policy.list", ""), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		return store.ScanJSON(s.st, store.PolicyPrefix(), func(p *policy.Policy) error {
			out.Policies = append(out.Policies, *p)
			return nil
		})
	})
	return out, err
}

// ShowPolicy returns one policy.
func (s *Service) ShowPolicy(c *Caller, name string) (*policy.Policy, error) {
	p := new(policy.Policy)
	err := s.read(event(c, "policy.show", ""), func(ev *audit.Record) error {
		ev.Detail = "policy " + name
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := checkName("policy", name); err != nil {
			return err
		}
		err := s.st.Get(store.PolicyKey(name), p)
		if errNotFound(err) {
			return api.Errorf(api.CodeNotFound, "no policy %q", name)
		}
		return err
	})
	return p, err
}
