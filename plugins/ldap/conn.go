package ldap

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/plugins/sdk"
)

// settleGrace is how long past the deadline the driver waits for the
// answer to a Password Modify operation it has sent. The directory goes
// on with an operation whose client left, so without the answer the
// driver would return while the change may still land.
const settleGrace = 2 * time.Second

// session is one connection to the directory. Every exchange on it is
// bounded by a context: when the context is done, the connection's
// deadline is moved to the past, which fails what is waiting on it.
type session struct {
	conn *goldap.Conn
	raw  net.Conn
	// connectCtx bounds the steps up to and including the first bind.
	connectCtx context.Context
	cancel     context.CancelFunc
}

// open connects to the directory and protects the connection as the
// target's TLS mode says.
func open(ctx context.Context, cfg *config) (*session, error) {
	connectCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	s := &session{connectCtx: connectCtx, cancel: cancel}
	var d net.Dialer
	raw, err := d.DialContext(connectCtx, "tcp", cfg.addr)
	if err != nil {
		err = classify(ctx, connectCtx, err, opConnect)
		cancel()
		return nil, err
	}
	s.raw = raw
	if cfg.tlsMode == tlsLDAPS {
		tc := tls.Client(raw, cfg.tls)
		if err := tc.HandshakeContext(connectCtx); err != nil {
			return nil, s.fail(classify(ctx, connectCtx, err, opTLS))
		}
		s.raw = tc
	}
	s.conn = goldap.NewConn(s.raw, cfg.tlsMode == tlsLDAPS)
	s.conn.Start()
	if cfg.tlsMode == tlsStartTLS {
		if err := s.do(connectCtx, func() error { return s.conn.StartTLS(cfg.tls) }); err != nil {
			return nil, s.fail(classify(ctx, connectCtx, err, opStartTLS))
		}
	}
	return s, nil
}

// close ends the session.
func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	_ = s.raw.Close()
	s.cancel()
}

// fail closes the session and returns err, which must be classified
// first: closing cancels the connect timeout's context.
func (s *session) fail(err error) error {
	s.close()
	return err
}

// do runs one exchange, failing it when ctx is done first.
func (s *session) do(ctx context.Context, exchange func() error) error {
	return s.doWithGrace(ctx, 0, exchange)
}

// doWithGrace runs one exchange, failing it when ctx has been done for
// grace.
func (s *session) doWithGrace(ctx context.Context, grace time.Duration,
	exchange func() error) error {
	stop := context.AfterFunc(ctx, func() {
		deadline := time.Unix(1, 0)
		if grace > 0 {
			deadline = time.Now().Add(grace)
		}
		_ = s.raw.SetDeadline(deadline)
	})
	defer stop()
	return exchange()
}

// bind binds as dn with password, asking for the password policy's
// verdict. within bounds the exchange; op says whose bind it is.
func (s *session) bind(ctx, within context.Context, dn string, password sdk.Secret,
	op operation) error {
	req := &goldap.SimpleBindRequest{
		Username: dn,
		Password: string(password.Reveal()),
		Controls: []goldap.Control{goldap.NewControlBeheraPasswordPolicy()},
	}
	var res *goldap.SimpleBindResult
	err := s.do(within, func() (err error) {
		res, err = s.conn.SimpleBind(req)
		return err
	})
	if err != nil {
		return bindError(classify(ctx, within, err, op), res)
	}
	return nil
}

// passwordModify sends the Password Modify extended operation of RFC
// 3062. identity is the entry to change, or "" for the bound one;
// current may be empty when the bound entry may set the password
// without it. Once the operation is sent, its answer is awaited for
// settleGrace past the deadline, so that the directory's outcome is
// settled when the driver returns, whenever the directory answers.
func (s *session) passwordModify(ctx context.Context, identity string,
	current, next sdk.Secret) error {
	if ctx.Err() != nil {
		return contextError(ctx, opModify)
	}
	req := &goldap.PasswordModifyRequest{
		UserIdentity: identity,
		OldPassword:  string(current.Reveal()),
		NewPassword:  string(next.Reveal()),
	}
	err := s.doWithGrace(ctx, settleGrace, func() error {
		_, err := s.conn.PasswordModify(req)
		return err
	})
	switch {
	case err == nil && ctx.Err() != nil:
		return sdk.Errorf(sdk.ReasonTimeout,
			"%s: the directory took the new password after the deadline", opModify)
	case err != nil:
		return classify(ctx, ctx, err, opModify)
	}
	return nil
}
