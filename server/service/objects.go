package service

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// Limits on target fields.
const (
	maxParams     = 32
	maxParamValue = 1024
	maxAddress    = 255
)

// scanner lists records: the store, or a write in progress.
type scanner interface {
	getter
	Scan(prefix []byte, fn func(key, value []byte) error) error
}

// children returns the nodes directly under parentID, in name order.
func children(g scanner, parentID string) ([]*model.Node, error) {
	var ids []string
	err := g.Scan(store.ChildPrefix(parentID), func(_, v []byte) error {
		id, err := strconv.Unquote(string(v))
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing children of %s: %w", parentID, err)
	}
	out := make([]*model.Node, 0, len(ids))
	for _, id := range ids {
		n, err := getNode(g, id)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// addNode stages a new node under its parent, with its name index entry.
func addNode(tx *store.Tx, n *model.Node) error {
	if err := tx.Put(store.NodeKey(n.ID), n); err != nil {
		return err
	}
	return tx.Put(store.ChildKey(n.ParentID, n.Name), n.ID)
}

// removeNode stages the removal of a childless node and its grants.
func removeNode(tx *store.Tx, n *model.Node) error {
	kids, err := children(tx, n.ID)
	if err != nil {
		return err
	}
	if len(kids) > 0 {
		return api.Errorf(api.CodeNotEmpty, "%s %q is not empty: it holds %d objects; delete them first",
			n.Kind, n.Name, len(kids))
	}
	var grants [][]byte
	err = tx.Scan(store.GrantPrefix(n.ID), func(k, _ []byte) error {
		grants = append(grants, append([]byte(nil), k...))
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range grants {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.Delete(store.ChildKey(n.ParentID, n.Name)); err != nil {
		return err
	}
	return tx.Delete(store.NodeKey(n.ID))
}

// CreateFolder creates a folder; its parent must exist. It needs create on
// the parent.
func (s *Service) CreateFolder(c *Caller, path string) (*api.Folder, error) {
	var out *api.Folder
	err := s.write(event(c, "folder.create", path), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		parent, name, err := s.lookupParent(tx, c, model.KindFolder, path)
		if err != nil {
			return err
		}
		n := &model.Node{ID: model.NewID(), Kind: model.KindFolder, ParentID: parent.leaf().ID,
			Name: name, Created: s.now()}
		out = &api.Folder{Path: path, Created: n.Created}
		return addNode(tx, n)
	})
	return out, err
}

// ListFolders lists every folder under path (the root when empty) that the
// caller may read.
func (s *Service) ListFolders(c *Caller, path string) (*api.FolderList, error) {
	out := &api.FolderList{Folders: []api.Folder{}}
	err := s.read(event(c, "folder.list", path), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		return s.walk(c, model.KindFolder, path, func(ch chain) error {
			if ch.leaf().Kind == model.KindFolder && len(ch) > 1 {
				out.Folders = append(out.Folders, api.Folder{Path: ch.path(), Created: ch.leaf().Created})
			}
			return nil
		})
	})
	return out, err
}

// walk calls fn with the chain of every folder and target at or under the
// node of kind at path that the caller may read, depth first in name order.
//
// From the root, a caller who may not read the whole vault sees the parts
// granted to it: the walk goes down through folders it may not read, without
// showing them, to the folders and targets granted below. Below the root,
// the starting node must be readable.
func (s *Service) walk(c *Caller, kind model.Kind, path string, fn func(chain) error) error {
	return s.descend(c, kind, path, true, fn)
}

// eachTarget calls fn with the chain of every target at or under the node
// of kind at path, readable or not, for callers that authorise each account
// on its own: a grant on an account shows it even where its target is not
// readable.
func (s *Service) eachTarget(c *Caller, kind model.Kind, path string, fn func(chain) error) error {
	return s.descend(c, kind, path, false, func(ch chain) error {
		if ch.leaf().Kind != model.KindTarget {
			return nil
		}
		return fn(ch)
	})
}

func (s *Service) descend(c *Caller, kind model.Kind, path string, readable bool, fn func(chain) error) error {
	var start chain
	var err error
	if path == "" && kind == model.KindFolder {
		start, err = rootChain(s.st)
	} else {
		start, err = s.lookup(s.st, c, kind, path, auth.OpRead)
	}
	if err != nil {
		return err
	}
	if err := fn(start); err != nil {
		return err
	}
	var visit func(ch chain) error
	visit = func(ch chain) error {
		kids, err := children(s.st, ch.leaf().ID)
		if err != nil {
			return err
		}
		for _, k := range kids {
			next := append(ch[:len(ch):len(ch)], k)
			show := true
			if readable {
				if show, err = allowed(s.st, c, next, auth.OpRead); err != nil {
					return err
				}
			}
			if show {
				if err := fn(next); err != nil {
					return err
				}
			}
			if k.Kind == model.KindFolder {
				if err := visit(next); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if start.leaf().Kind != model.KindFolder {
		return nil
	}
	return visit(start)
}

// DeleteFolder deletes an empty folder. It needs delete on it.
func (s *Service) DeleteFolder(c *Caller, path string) error {
	return s.write(event(c, "folder.delete", path), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if path == "" {
			return api.Errorf(api.CodeInvalidPath, "the root folder cannot be deleted")
		}
		ch, err := s.lookup(tx, c, model.KindFolder, path, auth.OpDelete)
		if err != nil {
			return err
		}
		return removeNode(tx, ch.leaf())
	})
}

// checkTarget validates the fields of a new target.
func checkTarget(req *api.TargetCreateRequest) error {
	if err := checkName("driver type", req.Type); err != nil {
		return err
	}
	if err := checkName("zone", req.Zone); err != nil {
		return err
	}
	if err := checkAddress(req.Address); err != nil {
		return err
	}
	if req.ReconcileAccount != "" {
		if err := checkName("reconcile account", req.ReconcileAccount); err != nil {
			return err
		}
	}
	if len(req.Params) > maxParams {
		return api.Errorf(api.CodeInvalidArgument, "a target takes at most %d parameters", maxParams)
	}
	for k, v := range req.Params {
		if err := checkName("parameter", k); err != nil {
			return err
		}
		if len(v) > maxParamValue || strings.ContainsFunc(v, isControl) {
			return api.Errorf(api.CodeInvalidArgument,
				"parameter %q must be at most %d bytes without control characters", k, maxParamValue)
		}
	}
	return nil
}

// checkDriverParams checks a target's parameters against what agents
// report of its driver: every required one given, no unknown one. A
// driver no agent has reported yet cannot be checked; the answer says so.
func (s *Service) checkDriverParams(req *api.TargetCreateRequest) ([]string, error) {
	v, ok := s.drivers.Load(req.Type)
	if !ok {
		return []string{fmt.Sprintf("no agent has reported a %s driver yet, so the target's "+
			"parameters could not be checked", req.Type)}, nil
	}
	d := v.(wire.DriverInfo)
	known := map[string]bool{}
	var missing []string
	for _, p := range d.Params {
		known[p.Name] = true
		if p.Required && req.Params[p.Name] == "" {
			missing = append(missing, fmt.Sprintf("%s (%s)", p.Name, p.Description))
		}
	}
	if len(missing) > 0 {
		return nil, api.Errorf(api.CodeInvalidArgument, "driver %s needs the parameters %s; "+
			"give each with --param NAME=VALUE", req.Type, strings.Join(missing, ", "))
	}
	for name := range req.Params {
		if !known[name] {
			return nil, api.Errorf(api.CodeInvalidArgument, "driver %s has no parameter %q "+
				"(it takes %s)", req.Type, name, paramNames(d))
		}
	}
	return nil, nil
}

func paramNames(d wire.DriverInfo) string {
	var names []string
	for _, p := range d.Params {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkAddress accepts HOST or HOST:PORT with a port in 1..65535.
func checkAddress(addr string) error {
	bad := api.Errorf(api.CodeInvalidArgument, "address %q is not HOST or HOST:PORT", truncate(addr))
	if addr == "" || len(addr) > maxAddress || strings.ContainsFunc(addr, isControl) ||
		strings.ContainsAny(addr, " /") {
		return bad
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(addr, ":") && net.ParseIP(addr) == nil {
			return bad
		}
		return nil
	}
	if host == "" {
		return bad
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return api.Errorf(api.CodeInvalidArgument, "port %q of address is not in 1..65535", port)
	}
	return nil
}

// CreateTarget creates a target in a folder. It needs create on the folder.
func (s *Service) CreateTarget(c *Caller, req *api.TargetCreateRequest) (*api.Target, error) {
	var out *api.Target
	err := s.write(event(c, "target.create", req.Path), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		parent, name, err := s.lookupParent(tx, c, model.KindTarget, req.Path)
		if err != nil {
			return err
		}
		if err := checkTarget(req); err != nil {
			return err
		}
		warn, err := s.checkDriverParams(req)
		if err != nil {
			return err
		}
		n := &model.Node{ID: model.NewID(), Kind: model.KindTarget, ParentID: parent.leaf().ID,
			Name: name, Created: s.now(), Type: req.Type, Address: req.Address, Zone: req.Zone,
			Params: req.Params, ReconcileAccount: req.ReconcileAccount}
		out = targetView(append(parent, n), 0)
		out.Warnings = warn
		return addNode(tx, n)
	})
	return out, err
}

func targetView(ch chain, accounts int) *api.Target {
	n := ch.leaf()
	return &api.Target{Path: ch.path(), Type: n.Type, Address: n.Address, Zone: n.Zone,
		Params: n.Params, Accounts: accounts, Created: n.Created, HostKey: n.HostKey,
		ReconcileAccount: n.ReconcileAccount}
}

// ListTargets lists the targets under a folder that the caller may read.
func (s *Service) ListTargets(c *Caller, folder string) (*api.TargetList, error) {
	out := &api.TargetList{Targets: []api.Target{}}
	err := s.read(event(c, "target.list", folder), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		return s.walk(c, model.KindFolder, folder, func(ch chain) error {
			if ch.leaf().Kind != model.KindTarget {
				return nil
			}
			kids, err := children(s.st, ch.leaf().ID)
			if err != nil {
				return err
			}
			out.Targets = append(out.Targets, *targetView(ch, len(kids)))
			return nil
		})
	})
	return out, err
}

// ShowTarget describes one target.
func (s *Service) ShowTarget(c *Caller, path string) (*api.Target, error) {
	var out *api.Target
	err := s.read(event(c, "target.show", path), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookup(s.st, c, model.KindTarget, path, auth.OpRead)
		if err != nil {
			return err
		}
		kids, err := children(s.st, ch.leaf().ID)
		out = targetView(ch, len(kids))
		return err
	})
	return out, err
}

// DeleteTarget deletes a target without accounts. It needs delete on it.
func (s *Service) DeleteTarget(c *Caller, path string) error {
	return s.write(event(c, "target.delete", path), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		ch, err := s.lookup(tx, c, model.KindTarget, path, auth.OpDelete)
		if err != nil {
			return err
		}
		return removeNode(tx, ch.leaf())
	})
}

// errNotFound reports whether err is the store's not found.
func errNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
