package service

import (
	"fmt"
	"time"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// Bootstrap is what Initialize hands out, once: the first vault key and the
// administrator's API token.
type Bootstrap struct {
	VaultKeyName string
	VaultKey     secret.Value
	Admin        string
	AdminToken   secret.Value
}

// Initialize creates a new vault in an empty store: the data key and the
// first vault key, the root folder, a default policy per credential type,
// and an administrator holding every operation on the root, with an API
// token. The vault is left open.
func Initialize(st *store.Store, v *vault.Vault, admin string) (*Bootstrap, error) {
	if err := checkName("user", admin); err != nil {
		return nil, err
	}
	b := &Bootstrap{VaultKeyName: "initial", VaultKey: vault.GenerateKey(), Admin: admin}
	tok, hash := auth.NewToken()
	b.AdminToken = tok
	now := time.Now().UTC()
	err := st.Update(func(tx *store.Tx) error {
		if err := v.Initialize(tx, b.VaultKeyName, b.VaultKey); err != nil {
			return err
		}
		root := &model.Node{ID: model.RootID, Kind: model.KindFolder, Created: now}
		if err := tx.Put(store.NodeKey(root.ID), root); err != nil {
			return err
		}
		for _, t := range model.CredentialTypes {
			p := policy.Default(t)
			if err := tx.Put(store.PolicyKey(p.Name), p); err != nil {
				return err
			}
		}
		if err := putUser(tx, &model.User{Name: admin, Created: now}); err != nil {
			return err
		}
		if err := putToken(tx, &model.Token{Hash: hash, User: admin, Created: now}); err != nil {
			return err
		}
		g := model.Grant{NodeID: model.RootID, Principal: admin, Ops: opStrings(auth.AllOps)}
		if err := tx.Put(store.GrantKey(g.NodeID, g.Principal), g); err != nil {
			return err
		}
		tx.Audit(audit.Record{Actor: "system", Op: "vault.init", Outcome: audit.OK,
			Detail: fmt.Sprintf("vault created with vault key %q and administrator %q",
				b.VaultKeyName, admin)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("initializing vault: %w", err)
	}
	return b, nil
}

func opStrings(ops []auth.Op) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = string(op)
	}
	return out
}
