package service

import (
	"errors"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// VaultStatus says whether the vault is open. Any authenticated caller may
// ask.
func (s *Service) VaultStatus(c *Caller) (*api.VaultStatus, error) {
	out := &api.VaultStatus{}
	err := s.read(event(c, "vault.status", ""), func(*audit.Record) error {
		out.Open = s.vault.IsOpen()
		return nil
	})
	return out, err
}

// OpenVault opens the vault with a vault key. It needs open_vault. A wrong
// key is slow on purpose and audited.
func (s *Service) OpenVault(c *Caller, req *api.VaultOpenRequest) (*api.VaultOpenResponse, error) {
	out := &api.VaultOpenResponse{}
	err := s.read(event(c, "vault.open", ""), func(ev *audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpOpenVault); err != nil {
			return err
		}
		if req.Key.IsEmpty() {
			return api.Errorf(api.CodeInvalidArgument, "no vault key given")
		}
		name, err := s.vault.Open(req.Key.Value)
		if errors.Is(err, vault.ErrWrongKey) {
			return api.Errorf(api.CodeWrongVaultKey, "wrong vault key")
		}
		if err != nil {
			return err
		}
		ev.Detail = "opened with vault key " + name
		out.Open, out.KeyName = true, name
		s.log.Info("vault opened", "user", c.User, "vault_key", name)
		return nil
	})
	return out, err
}

// CloseVault wipes the data key from memory at once. It needs open_vault.
func (s *Service) CloseVault(c *Caller) error {
	return s.read(event(c, "vault.close", ""), func(*audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpOpenVault); err != nil {
			return err
		}
		s.vault.Close()
		s.log.Info("vault closed", "user", c.User)
		return nil
	})
}

// ListVaultKeys lists the vault keys' names. It needs manage_vault_keys
// and an open vault.
func (s *Service) ListVaultKeys(c *Caller) (*api.VaultKeyList, error) {
	out := &api.VaultKeyList{}
	err := s.read(event(c, "vault.key.list", ""), func(*audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := s.authorizeRoot(s.st, c, auth.OpManageVaultKeys); err != nil {
			return err
		}
		names, err := s.vault.KeyNames()
		out.Keys = names
		return err
	})
	return out, err
}

// AddVaultKey adds a vault key, typed or generated. It needs
// manage_vault_keys and an open vault.
func (s *Service) AddVaultKey(c *Caller, req *api.VaultKeyAddRequest) (*api.VaultKeyAddResponse, error) {
	out := &api.VaultKeyAddResponse{Name: req.Name}
	ev := event(c, "vault.key.add", "")
	ev.Detail = "vault key " + req.Name
	err := s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := s.authorizeRoot(tx, c, auth.OpManageVaultKeys); err != nil {
			return err
		}
		if err := checkName("vault key", req.Name); err != nil {
			return err
		}
		key := req.Key.Value
		switch {
		case req.Generate && !key.IsEmpty():
			return api.Errorf(api.CodeInvalidArgument, "give a vault key or ask to generate one, not both")
		case req.Generate:
			key = vault.GenerateKey()
			out.GeneratedKey = string(key.Reveal())
		}
		return vaultError(s.vault.AddKey(tx, req.Name, key))
	})
	return out, err
}

// RemoveVaultKey removes a vault key; never the last one. It needs
// manage_vault_keys and an open vault.
func (s *Service) RemoveVaultKey(c *Caller, name string) error {
	ev := event(c, "vault.key.remove", "")
	ev.Detail = "vault key " + name
	return s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if err := s.needOpen(); err != nil {
			return err
		}
		if err := s.authorizeRoot(tx, c, auth.OpManageVaultKeys); err != nil {
			return err
		}
		if err := checkName("vault key", name); err != nil {
			return err
		}
		return vaultError(s.vault.RemoveKey(tx, name))
	})
}

// vaultError turns the vault's refusals into API errors.
func vaultError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vault.ErrClosed):
		return errVaultClosed
	case errors.Is(err, vault.ErrShortKey):
		return api.Errorf(api.CodeInvalidArgument, "%v", vault.ErrShortKey)
	case errors.Is(err, vault.ErrKeyExists):
		return api.Errorf(api.CodeAlreadyExists, "%v", vault.ErrKeyExists)
	case errors.Is(err, vault.ErrNoKey):
		return api.Errorf(api.CodeNotFound, "%v", vault.ErrNoKey)
	case errors.Is(err, vault.ErrLastKey):
		return api.Errorf(api.CodeLastVaultKey,
			"%v; add another vault key before removing this one", vault.ErrLastKey)
	}
	return err
}
