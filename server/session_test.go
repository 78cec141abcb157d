package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/service"
	"github.com/passman-dev/passman/server/store"
)

const sessionCookie = "__Host-passman-session"

// browser is what a web browser holds of a console session: the cookie
// the server set and the CSRF token the page was given.
type browser struct {
	t      *testing.T
	http   *http.Client
	base   string
	cookie string
	csrf   string
}

func newBrowser(t *testing.T, s *testserver.Server) *browser {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACert) {
		t.Fatal("no CA certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, http: &http.Client{Transport: tr}, base: "https://" + s.Addr()}
}

// answer is an HTTP answer: its status, body and the error code in it.
type answer struct {
	status int
	body   []byte
	code   api.Code
	resp   *http.Response
}

// send makes a request with the session cookie, when there is one, and
// the extra headers given.
func (b *browser) send(method, path, body string, header map[string]string) answer {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: b.cookie})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, body: raw, resp: resp}
	if resp.StatusCode >= 400 {
		var e api.Error
		if err := json.Unmarshal(raw, &e); err != nil {
			b.t.Fatalf("%s %s: %d with a body that is not a JSON error: %q", method, path, resp.StatusCode, raw)
		}
		a.code = e.Code
	}
	return a
}

// withCSRF is the header a console page sends on a change.
func (b *browser) withCSRF() map[string]string { return map[string]string{"X-CSRF-Token": b.csrf} }

// login starts a session and keeps its cookie and CSRF token.
func (b *browser) login(user, password string) *http.Cookie {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	a := b.send(http.MethodPost, "/v1/session", string(body), nil)
	if a.status != http.StatusOK {
		b.t.Fatalf("console login: %d %s", a.status, a.body)
	}
	var ck *http.Cookie
	for _, c := range a.resp.Cookies() {
		if c.Name == sessionCookie {
			ck = c
		}
	}
	if ck == nil || ck.Value == "" {
		b.t.Fatal("console login set no session cookie")
	}
	var sess api.Session
	if err := json.Unmarshal(a.body, &sess); err != nil {
		b.t.Fatal(err)
	}
	if strings.Contains(string(a.body), ck.Value) {
		b.t.Error("the session token is in the answer's body, where scripts can read it")
	}
	b.cookie, b.csrf = ck.Value, sess.CSRFToken
	return ck
}

// tokenStored reports whether the session token is in the database.
func tokenStored(t *testing.T, s *testserver.Server, tok string) bool {
	t.Helper()
	var tk model.Token
	err := s.Service().Store().Get(store.TokenKey(auth.HashToken(secret.FromString(tok))), &tk)
	return err == nil
}

func consoleUsers(t *testing.T, s *testserver.Server) {
	t.Helper()
	c := s.Admin
	for _, u := range []string{"alice", "bob"} {
		must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: u, Password: sec(u + "-console-pass")}))
		must[*api.Grant](t)(c.Grant(&api.GrantRequest{Path: "f", To: u, Ops: []string{"read", "reset"}}))
	}
}

func TestConsoleSessionCookie(t *testing.T) {
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	consoleUsers(t, s)
	b := newBrowser(t, s)
	ck := b.login("alice", "alice-console-pass")

	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/ and no Domain", ck)
	}
	if b.csrf == "" {
		t.Fatal("no CSRF token")
	}
	if !tokenStored(t, s, b.cookie) {
		t.Fatal("the session's token is not stored")
	}
	a := b.send(http.MethodGet, "/v1/session", "", nil)
	var sess api.Session
	if err := json.Unmarshal(a.body, &sess); a.status != http.StatusOK || err != nil || sess.User != "alice" {
		t.Fatalf("GET /v1/session: %d %s", a.status, a.body)
	}
	if sess.CSRFToken != b.csrf || sess.IdleSeconds != int(15*time.Minute/time.Second) {
		t.Errorf("session = %+v, want the same CSRF token and 900 s idle", sess)
	}

	t.Run("a session token is no API token", func(t *testing.T) {
		bearer := s.Client(t, []byte(b.cookie))
		_, err := bearer.ListAccounts("", "", "")
		wantCode(t, err, api.CodeUnauthenticated)
	})
	t.Run("an API token is no session", func(t *testing.T) {
		asCookie := &browser{t: t, http: b.http, base: b.base, cookie: string(s.Bootstrap.AdminToken.Reveal())}
		if a := asCookie.send(http.MethodGet, "/v1/session", "", nil); a.code != "unauthenticated" {
			t.Errorf("an API token as the session cookie: %d %s", a.status, a.code)
		}
	})
	t.Run("a session is refused after logout", func(t *testing.T) {
		other := newBrowser(t, s)
		other.login("alice", "alice-console-pass")
		tok := other.cookie
		if a := other.send(http.MethodPost, "/v1/session/end", "", other.withCSRF()); a.status != http.StatusOK {
			t.Fatalf("logout: %d %s", a.status, a.body)
		} else if cleared := a.resp.Cookies(); len(cleared) != 1 || cleared[0].MaxAge >= 0 {
			t.Errorf("logout did not clear the cookie: %+v", cleared)
		}
		if tokenStored(t, s, tok) {
			t.Error("the token stays in the database after logout")
		}
		if a := other.send(http.MethodGet, "/v1/session", "", nil); a.code != api.CodeUnauthenticated {
			t.Errorf("after logout: %d %s, want unauthenticated", a.status, a.code)
		}
	})
	s.CheckLogs(t, b.cookie, b.csrf, "alice-console-pass")
}

// TestConsoleCSRF sends changes with a good session cookie but without the
// page's proof that they come from the console. Each is refused with code
// csrf and changes nothing; the same change with the token goes through.
func TestConsoleCSRF(t *testing.T) {
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	consoleUsers(t, s)
	alice, bob := newBrowser(t, s), newBrowser(t, s)
	alice.login("alice", "alice-console-pass")
	bob.login("bob", "bob-console-pass")
	reset := `{"path":"f/web/root","type":"password","generate":true,"database_only":true}`
	self := "https://" + s.Addr()

	cases := []struct {
		name   string
		path   string
		header map[string]string
	}{
		{"no token", "/v1/accounts/reset", nil},
		{"empty token", "/v1/accounts/reset", map[string]string{"X-CSRF-Token": ""}},
		{"forged token", "/v1/accounts/reset",
			map[string]string{"X-CSRF-Token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"another session's token", "/v1/accounts/reset", bob.withCSRF()},
		{"the cookie as token", "/v1/accounts/reset", map[string]string{"X-CSRF-Token": alice.cookie}},
		{"another site's origin", "/v1/accounts/reset",
			map[string]string{"X-CSRF-Token": alice.csrf, "Origin": "https://evil.example"}},
		{"plain http origin", "/v1/accounts/reset",
			map[string]string{"X-CSRF-Token": alice.csrf, "Origin": "http://" + s.Addr()}},
		{"logout without token", "/v1/session/end", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, s)
			body := reset
			if tc.path == "/v1/session/end" {
				body = ""
			}
			a := alice.send(http.MethodPost, tc.path, body, tc.header)
			if a.status != http.StatusForbidden || a.code != api.CodeCSRF {
				t.Errorf("%d %s, want 403 csrf", a.status, a.code)
			}
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("database changed (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("the console's own request", func(t *testing.T) {
		a := alice.send(http.MethodPost, "/v1/accounts/reset", reset,
			map[string]string{"X-CSRF-Token": alice.csrf, "Origin": self})
		if a.status != http.StatusOK {
			t.Fatalf("reset with the CSRF token: %d %s", a.status, a.body)
		}
		acc := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root"))
		if acc.Credentials[0].Version != 2 {
			t.Errorf("version %d after the reset, want 2", acc.Credentials[0].Version)
		}
	})
	t.Run("reads need no token", func(t *testing.T) {
		if a := alice.send(http.MethodGet, "/v1/accounts?limit=10", "", nil); a.status != http.StatusOK {
			t.Errorf("listing accounts: %d %s", a.status, a.code)
		}
	})
	t.Run("a login from another site", func(t *testing.T) {
		a := newBrowser(t, s).send(http.MethodPost, "/v1/session",
			`{"user":"alice","password":"alice-console-pass"}`, map[string]string{"Origin": "https://evil.example"})
		if a.code != api.CodeCSRF || len(a.resp.Cookies()) != 0 {
			t.Errorf("%d %s with cookies %v, want 403 csrf and no cookie", a.status, a.code, a.resp.Cookies())
		}
	})
	s.CheckLogs(t, alice.cookie, bob.cookie, alice.csrf, bob.csrf)
}

// TestConsoleSessionIdle runs a session on a clock the test moves: a
// session used within the idle time lives on; one left longer ends, its
// token is deleted, and the end is audited.
func TestConsoleSessionIdle(t *testing.T) {
	clk := &clock{}
	s := testserver.StartWith(t, testserver.Config{Service: service.Options{Now: clk.now},
		SessionIdle: 10 * time.Minute})
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	consoleUsers(t, s)
	b := newBrowser(t, s)
	b.login("alice", "alice-console-pass")

	steps := []struct {
		wait time.Duration
		want int
	}{
		{9 * time.Minute, http.StatusOK},
		{9 * time.Minute, http.StatusOK}, // each request starts the idle time again
		{11 * time.Minute, http.StatusUnauthorized},
		{0, http.StatusUnauthorized}, // and it stays ended
	}
	for i, st := range steps {
		clk.advance(st.wait)
		if a := b.send(http.MethodGet, "/v1/accounts?limit=5", "", nil); a.status != st.want {
			t.Fatalf("step %d, after %s: %d %s, want %d", i, st.wait, a.status, a.code, st.want)
		}
	}
	if tokenStored(t, s, b.cookie) {
		t.Error("the idle session's token stays in the database")
	}
	recs := must[*api.AuditList](t)(s.Admin.ListAudit("", time.Time{}, 1000))
	ended := false
	for _, r := range recs.Records {
		ended = ended || (r.Op == "session.end" && r.Actor == "alice" && r.Detail == "idle")
	}
	if !ended {
		t.Error("no audit record of the session ending for idleness")
	}
}
