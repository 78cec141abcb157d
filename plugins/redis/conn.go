package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/passman-dev/passman/plugins/sdk"
)

// session is one connection to the server, logged in as an ACL user.
type session struct {
	client *goredis.Client
	conn   *goredis.Conn
}

// open connects to the target and logs in as account with password:
// HELLO 3 AUTH, or AUTH on a server without HELLO, then PING. A NOPERM
// answer to the PING still means the server accepted the password: an
// account may be allowed to log in and nothing else. The database of the
// db parameter is selected last.
func open(ctx context.Context, cfg *config, account string, password sdk.Secret) (*session, error) {
	client := goredis.NewClient(options(cfg, account, password))
	s := &session{client: client, conn: client.Conn()}

	ctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	err := s.conn.Ping(ctx).Err()
	if err != nil && !goredis.IsPermissionError(err) {
		s.close()
		return nil, classify(ctx, err, password)
	}
	if cfg.db != 0 {
		if err := s.conn.Select(ctx, cfg.db).Err(); err != nil {
			s.close()
			return nil, selectError(ctx, err, cfg.db)
		}
	}
	return s, nil
}

// options is how the driver's go-redis clients connect: one connection,
// one try of each command, and nothing sent beyond what the driver asks
// for and the login.
func options(cfg *config, account string, password sdk.Secret) *goredis.Options {
	return &goredis.Options{
		Addr:                  cfg.addr,
		Username:              account,
		Password:              string(password.Reveal()),
		TLSConfig:             cfg.tls,
		DialTimeout:           cfg.connectTimeout,
		ReadTimeout:           cfg.connectTimeout,
		WriteTimeout:          cfg.connectTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              1,
		// CLIENT SETINFO and CLIENT MAINT_NOTIFICATIONS would need
		// permissions an account may lack, and tell the driver nothing.
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

func (s *session) close() {
	_ = s.conn.Close()
	_ = s.client.Close()
}

// setUser runs ACL SETUSER for account with rules. Each rule travels as
// an argument of its own, so a password in one is never parsed as
// anything but a password.
func (s *session) setUser(ctx context.Context, account string, rules ...string) error {
	return s.conn.ACLSetUser(ctx, account, rules...).Err()
}

// persist saves the server's users as the persist parameter says: with
// ACL SAVE to the ACL file, with CONFIG REWRITE to the configuration
// file, or not at all. Both files hold passwords as SHA-256 hashes.
func (s *session) persist(ctx context.Context, how string) error {
	switch how {
	case persistACLSave:
		return s.conn.Do(ctx, "ACL", "SAVE").Err()
	case persistConfigRewrite:
		return s.conn.ConfigRewrite(ctx).Err()
	}
	return nil
}

// user is what ACL GETUSER says of an account.
type user struct {
	flags []string
}

// enabled reports whether the user may log in at all.
func (u *user) enabled() bool {
	for _, f := range u.flags {
		if f == "off" {
			return false
		}
	}
	return true
}

// getUser runs ACL GETUSER for account and returns nil when the server
// has no such user.
func (s *session) getUser(ctx context.Context, account string) (*user, error) {
	v, err := s.conn.Do(ctx, "ACL", "GETUSER", account).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, nil
	case err != nil:
		return nil, err
	}
	u := &user{}
	flags, _ := field(v, "flags").([]any)
	for _, f := range flags {
		if s, ok := f.(string); ok {
			u.flags = append(u.flags, s)
		}
	}
	return u, nil
}

// field returns the value of key in a reply that is a map (RESP3) or a
// flat list of keys and values (RESP2), or nil.
func field(reply any, key string) any {
	switch r := reply.(type) {
	case map[any]any:
		return r[key]
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			if k, ok := r[i].(string); ok && k == key {
				return r[i+1]
			}
		}
	}
	return nil
}
