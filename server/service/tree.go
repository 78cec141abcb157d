package service

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// MaxNameLength is the longest name of a folder, target, account, user,
// policy, zone or vault key, in bytes.
const MaxNameLength = 128

// checkName returns an invalid_name error unless name is a usable name for
// a thing of the given kind.
func checkName(kind, name string) error {
	bad := func(why string) error {
		return api.Errorf(api.CodeInvalidName, "%s name %q %s", kind, truncate(name), why)
	}
	switch {
	case name == "":
		return api.Errorf(api.CodeInvalidName, "%s name is empty", kind)
	case len(name) > MaxNameLength:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxNameLength))
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case strings.Contains(name, "/"):
		return bad("contains '/', which separates path elements")
	case name == "." || name == "..":
		return bad("is reserved")
	case strings.TrimSpace(name) != name:
		return bad("starts or ends with a space")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return bad("contains a control character")
		}
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// splitPath validates p and returns its elements. An empty path is the root.
func splitPath(kind, p string) ([]string, error) {
	if len(p) > 16*MaxNameLength {
		return nil, api.Errorf(api.CodeInvalidPath, "%s path is too long", kind)
	}
	if p == "" {
		return nil, nil
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return nil, api.Errorf(api.CodeInvalidPath,
			"%s path %q has an empty element; write it as folder/.../name", kind, truncate(p))
	}
	parts := strings.Split(p, "/")
	for _, n := range parts {
		if err := checkName(kind, n); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// chain is the nodes from the root down to one node.
type chain []*model.Node

func (c chain) leaf() *model.Node { return c[len(c)-1] }

// path returns the slash-separated names below the root.
func (c chain) path() string {
	names := make([]string, 0, len(c)-1)
	for _, n := range c[1:] {
		names = append(names, n.Name)
	}
	return strings.Join(names, "/")
}

// getter reads records: the store, or a write in progress.
type getter interface {
	Get(key []byte, v any) error
}

// resolve walks the tree from the root along parts. It returns the chain
// of the nodes it found; if a node is missing, the chain ends at its
// parent and found is false.
func resolve(g getter, parts []string) (c chain, found bool, err error) {
	root, err := getNode(g, model.RootID)
	if err != nil {
		return nil, false, err
	}
	c = chain{root}
	for _, name := range parts {
		var id string
		err := g.Get(store.ChildKey(c.leaf().ID, name), &id)
		if errors.Is(err, store.ErrNotFound) {
			return c, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		n, err := getNode(g, id)
		if err != nil {
			return nil, false, err
		}
		c = append(c, n)
	}
	return c, true, nil
}

func getNode(g getter, id string) (*model.Node, error) {
	n := new(model.Node)
	if err := g.Get(store.NodeKey(id), n); err != nil {
		return nil, fmt.Errorf("reading node %s: %w", id, err)
	}
	return n, nil
}

// lookup resolves path to a node of kind, checking that caller may do op
// on it. A missing node is reported as not found only to a caller who may
// read its nearest existing ancestor, so that names give nothing away.
func (s *Service) lookup(g getter, c *Caller, kind model.Kind, path string, op auth.Op) (chain, error) {
	parts, err := splitPath(string(kind), path)
	if err != nil {
		return nil, err
	}
	ch, found, err := resolve(g, parts)
	if err != nil {
		return nil, err
	}
	if !found || ch.leaf().Kind != kind {
		if err := s.authorize(g, c, ch, auth.OpRead); err != nil {
			return nil, err
		}
		return nil, api.Errorf(api.CodeNotFound, "no %s at %q", kind, path)
	}
	if err := s.authorize(g, c, ch, op); err != nil {
		return nil, err
	}
	return ch, nil
}

// lookupLeaf is lookup with the ancestors, their names and the grants read
// from the store, and only the node itself read through tx: a write
// through tx then conflicts with any concurrent write of that node, as a
// rename, a move or a delete of it makes, without conflicting with the
// many unrelated writes under the same folders.
func (s *Service) lookupLeaf(tx *store.Tx, c *Caller, kind model.Kind, path string,
	op auth.Op) (chain, error) {
	ch, err := s.lookup(s.st, c, kind, path, op)
	if err != nil {
		return nil, err
	}
	leaf, err := getNode(tx, ch.leaf().ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// Deleted, moved or renamed since the lookup: it is no longer there.
	if err != nil || leaf.ParentID != ch[len(ch)-2].ID || leaf.Name != ch.leaf().Name {
		return nil, api.Errorf(api.CodeNotFound, "no %s at %q", kind, path)
	}
	out := slices.Clone(ch)
	out[len(out)-1] = leaf
	return out, nil
}

// lookupParent resolves the parent of a new node at path: a folder for a
// folder or target, a target for an account. It checks that caller may
// create there and that the name is free.
func (s *Service) lookupParent(g getter, c *Caller, kind model.Kind, path string) (chain, string, error) {
	parts, err := splitPath(string(kind), path)
	if err != nil {
		return nil, "", err
	}
	if len(parts) == 0 {
		return nil, "", api.Errorf(api.CodeInvalidPath, "%s path is empty", kind)
	}
	parentKind := model.KindFolder
	if kind == model.KindAccount {
		parentKind = model.KindTarget
		if len(parts) < 2 {
			return nil, "", api.Errorf(api.CodeInvalidPath,
				"account path %q names no target; write it as folder/.../target/account", path)
		}
	}
	name := parts[len(parts)-1]
	parent, err := s.lookup(g, c, parentKind, strings.Join(parts[:len(parts)-1], "/"), auth.OpCreate)
	if err != nil {
		return nil, "", err
	}
	taken, err := hasKey(g, store.ChildKey(parent.leaf().ID, name))
	if err != nil {
		return nil, "", err
	}
	if taken {
		return nil, "", api.Errorf(api.CodeAlreadyExists, "%q already exists", path)
	}
	return parent, name, nil
}

func hasKey(g getter, key []byte) (bool, error) {
	var raw any
	err := g.Get(key, &raw)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// authorize returns forbidden unless a grant on a node of ch, to the
// caller or one of its groups, includes op.
func (s *Service) authorize(g getter, c *Caller, ch chain, op auth.Op) error {
	ok, err := allowed(g, c, ch, op)
	if err != nil {
		return err
	}
	if !ok {
		p := ch.path()
		if p == "" {
			p = "the vault"
		}
		return api.Errorf(api.CodeForbidden, "%s may not %s on %s", c.User, op, p)
	}
	return nil
}

func allowed(g getter, c *Caller, ch chain, op auth.Op) (bool, error) {
	found := false
	err := eachGrant(g, c, ch, func(gr *model.Grant) bool {
		found = slices.Contains(gr.Ops, string(op))
		return !found
	})
	return found, err
}

// eachGrant calls fn with every grant to the caller or its groups on the
// nodes of ch, from the root down, until fn returns false.
func eachGrant(g getter, c *Caller, ch chain, fn func(*model.Grant) bool) error {
	principals := auth.Principals(c.User, c.Groups)
	for _, n := range ch {
		for _, p := range principals {
			var gr model.Grant
			err := g.Get(store.GrantKey(n.ID, p), &gr)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !fn(&gr) {
				return nil
			}
		}
	}
	return nil
}

// rootChain returns the chain of the root alone, for vault-wide checks.
func rootChain(g getter) (chain, error) {
	root, err := getNode(g, model.RootID)
	if err != nil {
		return nil, err
	}
	return chain{root}, nil
}

// authorizeRoot checks a vault-wide operation, granted on the root.
func (s *Service) authorizeRoot(g getter, c *Caller, op auth.Op) error {
	ch, err := rootChain(g)
	if err != nil {
		return err
	}
	return s.authorize(g, c, ch, op)
}
