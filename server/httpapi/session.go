package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/service"
)

// sessionCookie carries a web console session's token. The __Host- prefix
// makes browsers keep it to this host, on every path, over HTTPS only.
const sessionCookie = "__Host-passman-session"

// csrfHeader carries the session's CSRF token on requests that change
// something. A page of another site can neither read the token nor set the
// header on a request that would carry the cookie.
const csrfHeader = "X-CSRF-Token"

// DefaultSessionIdle is how long a console session lasts with no request.
const DefaultSessionIdle = 15 * time.Minute

// sessions tracks the console sessions this process started and when each
// was last used. A session is good only while it is here: after a restart
// every user logs in again, as they must open the vault again anyway.
type sessions struct {
	idle time.Duration
	now  func() time.Time
	// csrfKey derives each session's CSRF token from its token's hash.
	csrfKey []byte

	mu       sync.Mutex
	lastSeen map[[32]byte]time.Time
}

func newSessions(idle time.Duration, now func() time.Time) *sessions {
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &sessions{idle: idle, now: now, csrfKey: key, lastSeen: map[[32]byte]time.Time{}}
}

func (ss *sessions) add(tok secret.Value) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.lastSeen[sha256.Sum256(tok.Reveal())] = ss.now()
	// Sessions that went idle without a request are forgotten here, so
	// the map does not grow with abandoned sessions.
	for k, t := range ss.lastSeen {
		if ss.now().Sub(t) > ss.idle {
			delete(ss.lastSeen, k)
		}
	}
}

// touch marks a session used now. It reports false for a session this
// process did not start, one that ended, and one idle for too long; idle
// says which of these it was, so that its token can be deleted.
func (ss *sessions) touch(tok secret.Value) (ok, idle bool) {
	k := sha256.Sum256(tok.Reveal())
	ss.mu.Lock()
	defer ss.mu.Unlock()
	last, found := ss.lastSeen[k]
	if !found {
		return false, false
	}
	now := ss.now()
	if now.Sub(last) > ss.idle {
		delete(ss.lastSeen, k)
		return false, true
	}
	ss.lastSeen[k] = now
	return true, false
}

func (ss *sessions) remove(tok secret.Value) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.lastSeen, sha256.Sum256(tok.Reveal()))
}

// csrf returns the session's CSRF token: a MAC of the session token under
// a key that never leaves this process.
func (ss *sessions) csrf(tok secret.Value) string {
	m := hmac.New(sha256.New, ss.csrfKey)
	m.Write(tok.Reveal())
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (ss *sessions) csrfOK(tok secret.Value, got string) bool {
	return got != "" && hmac.Equal([]byte(ss.csrf(tok)), []byte(got))
}

func sessionToken(r *http.Request) (secret.Value, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return secret.Value{}, false
	}
	return secret.FromString(ck.Value), true
}

func setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// safeMethod reports whether a request changes nothing by its method.
func safeMethod(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// sameOrigin refuses a request whose Origin, when the browser sent one, is
// not this server: a second line behind the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme == "https" && u.Host == r.Host
}

var errCSRF = api.Errorf(api.CodeCSRF,
	"the request lacks the session's CSRF token or comes from another site; reload the console")

// sessionCaller authenticates a request by its session cookie. Requests
// that may change something must carry the session's CSRF token.
func (h *Handler) sessionCaller(r *http.Request, tok secret.Value) (*service.Caller, error) {
	ok, idle := h.sessions.touch(tok)
	if idle {
		_ = h.svc.EndSession(tok, "idle")
	}
	if !ok {
		return nil, api.Errorf(api.CodeUnauthenticated, "no session or the session has ended; log in again")
	}
	if !safeMethod(r) && (!sameOrigin(r) || !h.sessions.csrfOK(tok, r.Header.Get(csrfHeader))) {
		return nil, errCSRF
	}
	return h.svc.AuthenticateSession(tok)
}

// startSession logs a user in to the console and sets the session cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request) {
	req := new(api.LoginRequest)
	if err := decode(w, r, req); err != nil {
		h.svc.Refused("", "session.start", err.(*api.Error))
		writeError(w, err)
		return
	}
	if !sameOrigin(r) {
		h.svc.Refused("", "session.start", errCSRF)
		writeError(w, errCSRF)
		return
	}
	res, err := h.svc.StartSession(req)
	if err != nil {
		writeError(w, err)
		return
	}
	tok := secret.FromString(res.Token)
	h.sessions.add(tok)
	setSessionCookie(w, res.Token, int(service.SessionLifetime/time.Second))
	h.describeSession(w, &service.Caller{User: res.User}, tok)
}

// showSession tells the page who is logged in and the session's CSRF token.
func (h *Handler) showSession(w http.ResponseWriter, r *http.Request, c *service.Caller) {
	tok, ok := sessionToken(r)
	if !ok {
		writeError(w, api.Errorf(api.CodeInvalidArgument, "GET /v1/session is for the console's session cookie"))
		return
	}
	h.describeSession(w, c, tok)
}

func (h *Handler) describeSession(w http.ResponseWriter, c *service.Caller, tok secret.Value) {
	ops, err := h.svc.RootOps(c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, api.Session{User: c.User, CSRFToken: h.sessions.csrf(tok), Ops: ops,
		IdleSeconds: int(h.sessions.idle / time.Second)})
}

// endSession logs out: the token is deleted and the cookie cleared.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, _ *service.Caller) {
	tok, ok := sessionToken(r)
	if !ok {
		writeError(w, api.Errorf(api.CodeInvalidArgument, "no session to end"))
		return
	}
	h.sessions.remove(tok)
	setSessionCookie(w, "", -1)
	respond(w, struct{}{}, h.svc.EndSession(tok, "logout"))
}
