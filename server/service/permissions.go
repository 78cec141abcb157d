package service

import (
	"errors"
	"slices"
	"strings"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// lookupAny resolves a path to a node of any kind, checking op on it.
func (s *Service) lookupAny(g getter, c *Caller, path string, op auth.Op) (chain, error) {
	parts, err := splitPath("object", path)
	if err != nil {
		return nil, err
	}
	ch, found, err := resolve(g, parts)
	if err != nil {
		return nil, err
	}
	if !found {
		if err := s.authorize(g, c, ch, auth.OpRead); err != nil {
			return nil, err
		}
		return nil, api.Errorf(api.CodeNotFound, "nothing at %q", path)
	}
	return ch, s.authorize(g, c, ch, op)
}

// checkPrincipal refuses a principal that is neither an existing user nor
// a well-formed group name written "@group".
func checkPrincipal(g getter, p string) error {
	if name, ok := strings.CutPrefix(p, "@"); ok {
		return checkName("group", name)
	}
	if err := checkName("user", p); err != nil {
		return err
	}
	ok, err := hasKey(g, store.UserKey(p))
	if err != nil {
		return err
	}
	if !ok {
		return api.Errorf(api.CodeNotFound, "no user %q (write a group as @name)", p)
	}
	return nil
}

func parseOps(ops []string) ([]auth.Op, error) {
	parsed, err := auth.ParseOps(strings.Join(ops, ","))
	if err != nil {
		return nil, api.Errorf(api.CodeInvalidArgument, "%v; operations are all or %s", err,
			strings.Join(opStrings(auth.AllOps), ","))
	}
	return parsed, nil
}

// Grant adds operations to a principal's grant on a path. It needs
// manage_permissions there.
func (s *Service) Grant(c *Caller, req *api.GrantRequest) (*api.Grant, error) {
	return s.editGrant(c, "permission.grant", req, func(have []string, ops []auth.Op) []string {
		for _, op := range ops {
			if !slices.Contains(have, string(op)) {
				have = append(have, string(op))
			}
		}
		return have
	})
}

// Revoke removes operations from a principal's grant on a path.
func (s *Service) Revoke(c *Caller, req *api.GrantRequest) (*api.Grant, error) {
	return s.editGrant(c, "permission.revoke", req, func(have []string, ops []auth.Op) []string {
		return slices.DeleteFunc(have, func(o string) bool { return slices.Contains(ops, auth.Op(o)) })
	})
}

func (s *Service) editGrant(c *Caller, op string, req *api.GrantRequest,
	edit func([]string, []auth.Op) []string) (*api.Grant, error) {
	out := &api.Grant{Path: req.Path, Principal: req.To}
	ev := event(c, op, req.Path)
	ev.Detail = req.To + ": " + strings.Join(req.Ops, ",")
	err := s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookupAny(tx, c, req.Path, auth.OpManagePermissions)
		if err != nil {
			return err
		}
		if err := checkPrincipal(tx, req.To); err != nil {
			return err
		}
		ops, err := parseOps(req.Ops)
		if err != nil {
			return err
		}
		key := store.GrantKey(ch.leaf().ID, req.To)
		g := model.Grant{NodeID: ch.leaf().ID, Principal: req.To}
		if err := tx.Get(key, &g); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.Ops = edit(g.Ops, ops)
		out.Ops = g.Ops
		if len(g.Ops) == 0 {
			return tx.Delete(key)
		}
		return tx.Put(key, g)
	})
	return out, err
}

// ListGrants lists the grants on a path and on every node above it, which
// together decide what may be done there. It needs manage_permissions.
func (s *Service) ListGrants(c *Caller, path string) (*api.GrantList, error) {
	out := &api.GrantList{Grants: []api.Grant{}}
	err := s.read(event(c, "permission.list", path), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookupAny(s.st, c, path, auth.OpManagePermissions)
		if err != nil {
			return err
		}
		for i := range ch {
			p := ch[:i+1].path()
			err := store.ScanJSON(s.st, store.GrantPrefix(ch[i].ID), func(g *model.Grant) error {
				out.Grants = append(out.Grants, api.Grant{Path: p, Principal: g.Principal, Ops: g.Ops})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
