package service

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// MinPasswordLength is the shortest password a local user may have.
const MinPasswordLength = 12

var errBadToken = api.Errorf(api.CodeUnauthenticated,
	"missing or unknown API token; set PASSMAN_TOKEN or run passman login")

func putUser(tx *store.Tx, u *model.User) error { return tx.Put(store.UserKey(u.Name), u) }

func putToken(tx *store.Tx, t *model.Token) error {
	if err := tx.Put(store.TokenKey(t.Hash), t); err != nil {
		return err
	}
	return tx.PutRaw(store.UserTokenKey(t.User, t.Hash), []byte("{}"))
}

// Authenticate returns the caller an API token belongs to. A console
// session's token is refused here: it is good only in its cookie.
func (s *Service) Authenticate(tok secret.Value) (*Caller, error) {
	c, t, err := s.authenticate(tok)
	if err != nil {
		return nil, err
	}
	if t.Session {
		return nil, errBadToken
	}
	return c, nil
}

// AuthenticateSession returns the caller a console session belongs to.
func (s *Service) AuthenticateSession(tok secret.Value) (*Caller, error) {
	c, t, err := s.authenticate(tok)
	if err != nil {
		return nil, errBadSession
	}
	if !t.Session {
		return nil, errBadSession
	}
	return c, nil
}

var errBadSession = api.Errorf(api.CodeUnauthenticated, "no session or the session has ended; log in again")

func (s *Service) authenticate(tok secret.Value) (*Caller, *model.Token, error) {
	if auth.CheckTokenForm(tok) != nil {
		return nil, nil, errBadToken
	}
	var t model.Token
	if err := s.st.Get(store.TokenKey(auth.HashToken(tok)), &t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errBadToken
		}
		return nil, nil, s.internal("reading token", err)
	}
	if !t.Expires.IsZero() && s.now().After(t.Expires) {
		return nil, nil, errBadToken
	}
	var u model.User
	if err := s.st.Get(store.UserKey(t.User), &u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errBadToken
		}
		return nil, nil, s.internal("reading user", err)
	}
	return &Caller{User: u.Name, Groups: u.Groups}, &t, nil
}

// Login checks a user's password and returns a new API token. A failure is
// audited and says only that the name or password is wrong; it takes as
// long whether or not the user exists, and the password is checked outside
// the store's write lock so that guessing cannot stall other writes.
func (s *Service) Login(req *api.LoginRequest) (*api.LoginResponse, error) {
	return s.login(req, "login", time.Time{})
}

// StartSession logs a user in to the web console: like Login, but the
// token is a session's, good only as the console's cookie, and it ends at
// the latest after SessionLifetime.
func (s *Service) StartSession(req *api.LoginRequest) (*api.LoginResponse, error) {
	return s.login(req, "session.start", s.now().Add(SessionLifetime))
}

// SessionLifetime is the longest a console session lasts, however active.
const SessionLifetime = 12 * time.Hour

func (s *Service) login(req *api.LoginRequest, op string, expires time.Time) (*api.LoginResponse, error) {
	ev := audit.Record{Actor: "-", Op: op}
	var u model.User
	err := s.st.Get(store.UserKey(req.User), &u)
	exists := err == nil && checkName("user", req.User) == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.internal("reading user", err)
	}
	if exists {
		ev.Actor = u.Name
	}
	hash := u.PasswordHash
	if !exists || hash == "" {
		hash = dummyHash
	}
	ok, err := auth.CheckPassword(hash, req.Password.Value)
	if err != nil {
		return nil, s.internal("checking password", err)
	}
	if !ok || !exists || u.PasswordHash == "" {
		return nil, s.fail(ev, api.Errorf(api.CodeUnauthenticated, "wrong user name or password"))
	}
	var out *api.LoginResponse
	err = s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if ok, err := tx.Has(store.UserKey(u.Name)); err != nil || !ok {
			return errors.Join(err, api.Errorf(api.CodeUnauthenticated, "wrong user name or password"))
		}
		tok, hash := auth.NewToken()
		out = &api.LoginResponse{User: u.Name, Token: string(tok.Reveal())}
		return putToken(tx, &model.Token{Hash: hash, User: u.Name, Created: s.now(), Expires: expires,
			Session: !expires.IsZero()})
	})
	return out, err
}

// RootOps lists the vault-wide operations the caller holds, granted on the
// root, so that a client shows only what it may use.
func (s *Service) RootOps(c *Caller) ([]string, error) {
	ch, err := rootChain(s.st)
	if err != nil {
		return nil, s.internal("reading the root", err)
	}
	held := []string{}
	err = eachGrant(s.st, c, ch, func(gr *model.Grant) bool {
		for _, op := range gr.Ops {
			if !slices.Contains(held, op) {
				held = append(held, op)
			}
		}
		return true
	})
	if err != nil {
		return nil, s.internal("reading grants", err)
	}
	slices.Sort(held)
	return held, nil
}

// EndSession ends a console session: its token is deleted, so the cookie
// is worth nothing even if it was copied. why is "logout" or "idle".
func (s *Service) EndSession(tok secret.Value, why string) error {
	if auth.CheckTokenForm(tok) != nil {
		return errBadSession
	}
	hash := auth.HashToken(tok)
	var t model.Token
	if err := s.st.Get(store.TokenKey(hash), &t); err != nil || !t.Session {
		return errBadSession
	}
	ev := audit.Record{Actor: t.User, Op: "session.end", Detail: why}
	return s.write(ev, func(tx *store.Tx, _ *audit.Record) error {
		if err := tx.Delete(store.TokenKey(hash)); err != nil {
			return err
		}
		return tx.Delete(store.UserTokenKey(t.User, hash))
	})
}

// dummyHash is checked against when there is no user or no password, so
// that a refusal costs the same either way.
var dummyHash = auth.HashPassword(secret.FromString("no user has this password"))

// CreateUser adds a local user. It needs manage_permissions on the vault.
func (s *Service) CreateUser(c *Caller, req *api.UserCreateRequest) (*api.User, error) {
	var out *api.User
	var hash string
	if !req.Password.IsEmpty() && len([]rune(string(req.Password.Reveal()))) >= MinPasswordLength {
		hash = auth.HashPassword(req.Password.Value)
	}
	err := s.write(event(c, "user.create", req.Name), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.authorizeRoot(tx, c, auth.OpManagePermissions); err != nil {
			return err
		}
		if err := checkName("user", req.Name); err != nil {
			return err
		}
		for _, g := range req.Groups {
			if err := checkName("group", g); err != nil {
				return err
			}
		}
		if !req.Password.IsEmpty() && len([]rune(string(req.Password.Reveal()))) < MinPasswordLength {
			return api.Errorf(api.CodeInvalidArgument,
				"password is shorter than %d characters", MinPasswordLength)
		}
		if ok, err := tx.Has(store.UserKey(req.Name)); err != nil || ok {
			return errors.Join(err, api.Errorf(api.CodeAlreadyExists, "user %q exists", req.Name))
		}
		u := &model.User{Name: req.Name, Groups: req.Groups, Created: s.now()}
		u.PasswordHash = hash
		out = &api.User{Name: u.Name, Groups: u.Groups, Created: u.Created}
		return putUser(tx, u)
	})
	return out, err
}

// ListUsers lists the local users. It needs manage_permissions.
func (s *Service) ListUsers(c *Caller) (*api.UserList, error) {
	out := &api.UserList{Users: []api.User{}}
	err := s.read(event(c, "user.list", ""), func(*audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpManagePermissions); err != nil {
			return err
		}
		return store.ScanJSON(s.st, store.UserPrefix(), func(u *model.User) error {
			out.Users = append(out.Users, api.User{Name: u.Name, Groups: u.Groups, Created: u.Created})
			return nil
		})
	})
	return out, err
}

// DeleteUser removes a user and its tokens. Nobody deletes themselves, so
// that the vault cannot be left without its last administrator by mistake.
func (s *Service) DeleteUser(c *Caller, name string) error {
	return s.write(event(c, "user.delete", name), func(tx *store.Tx, _ *audit.Record) error {
		if err := s.authorizeRoot(tx, c, auth.OpManagePermissions); err != nil {
			return err
		}
		if err := checkName("user", name); err != nil {
			return err
		}
		if name == c.User {
			return api.Errorf(api.CodeInvalidArgument, "you cannot delete your own user")
		}
		if ok, err := tx.Has(store.UserKey(name)); err != nil || !ok {
			return errors.Join(err, api.Errorf(api.CodeNotFound, "no user %q", name))
		}
		var hashes [][]byte
		err := tx.Scan(store.UserTokenPrefix(name), func(k, _ []byte) error {
			hashes = append(hashes, slices.Clone(k))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range hashes {
			if err := tx.Delete(store.TokenKeyOf(name, k)); err != nil {
				return err
			}
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		if err := deleteGrantsOf(tx, name); err != nil {
			return err
		}
		return tx.Delete(store.UserKey(name))
	})
}

// deleteGrantsOf stages the removal of every grant to principal.
func deleteGrantsOf(tx *store.Tx, principal string) error {
	var keys [][]byte
	err := tx.Scan(store.AllGrantsPrefix(), func(k, _ []byte) error {
		if strings.HasSuffix(string(k), "/"+principal) {
			keys = append(keys, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
