package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
)

// userPassword is the password newUser gives name.
func userPassword(name string) string { return name + "-Password-0123" }

// newUser creates a user with userPassword(name) and returns a client
// holding a token from its login.
func newUser(t *testing.T, s *testserver.Server, name string, groups []string) *client.Client {
	t.Helper()
	must[*api.User](t)(s.Admin.CreateUser(&api.UserCreateRequest{Name: name,
		Password: sec(userPassword(name)), Groups: groups}))
	return login(t, s, name)
}

// login logs name in with userPassword(name) and returns a client holding
// the new token.
func login(t *testing.T, s *testserver.Server, name string) *client.Client {
	t.Helper()
	r := must[*api.LoginResponse](t)(s.Admin.Login(&api.LoginRequest{User: name,
		Password: sec(userPassword(name))}))
	return s.Client(t, []byte(r.Token))
}

// auditJSON returns every audit record, encoded as the API sends them.
func auditJSON(t *testing.T, s *testserver.Server) string {
	t.Helper()
	recs := must[*api.AuditList](t)(s.Admin.ListAudit("", time.Time{}, 10000))
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	const password = "bob-Correct-Horse-7"
	must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: "bob", Password: sec(password)}))
	must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: "svc"}))

	r := must[*api.LoginResponse](t)(c.Login(&api.LoginRequest{User: "bob",
		Password: sec(password)}))
	if r.User != "bob" || !strings.HasPrefix(r.Token, "pm_") {
		t.Errorf("login answered user %q and a token without the pm_ prefix: %t", r.User,
			!strings.HasPrefix(r.Token, "pm_"))
	}
	bob := s.Client(t, []byte(r.Token))
	if _, err := bob.VaultStatus(); err != nil {
		t.Errorf("new token does not work: %v", err)
	}

	cases := []struct {
		name     string
		user     string
		password string
	}{
		{"wrong password", "bob", "bob-Wrong-Horse-77"},
		{"password of another case", "bob", strings.ToUpper(password)},
		{"empty password", "bob", ""},
		{"unknown user", "mallory", password},
		{"user without password", "svc", password},
		{"user without password and empty password", "svc", ""},
	}
	messages := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, s)
			_, err := c.Login(&api.LoginRequest{User: tc.user, Password: sec(tc.password)})
			wantCode(t, err, api.CodeUnauthenticated)
			messages[tc.name] = err.Error()
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("failed login changed the database (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("failures look alike", func(t *testing.T) {
		first := cases[0].name
		for _, tc := range cases[1:] {
			if messages[tc.name] != messages[first] {
				t.Errorf("case %q answered %q, case %q answered %q", tc.name,
					messages[tc.name], first, messages[first])
			}
		}
	})
	t.Run("failures are audited", func(t *testing.T) {
		recs := must[*api.AuditList](t)(c.ListAudit("", time.Time{}, 10000)).Records
		n := 0
		for _, rec := range recs {
			if rec.Op == "login" && rec.Outcome == "refused" &&
				rec.Code == string(api.CodeUnauthenticated) {
				n++
			}
		}
		if n != len(cases) {
			t.Errorf("%d refused logins audited, want %d", n, len(cases))
		}
	})
	t.Run("no password in logs or audit", func(t *testing.T) {
		secrets := []string{password, "bob-Wrong-Horse-77", strings.ToUpper(password), r.Token}
		s.CheckLogs(t, secrets...)
		trail := auditJSON(t, s)
		for _, v := range secrets {
			if strings.Contains(trail, v) {
				t.Errorf("a password or token appears in the audit trail")
			}
		}
	})
}

func TestDeleteUserRevokesTokens(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	first := newUser(t, s, "bob", nil)
	second := login(t, s, "bob")
	for i, bob := range []*client.Client{first, second} {
		if _, err := bob.VaultStatus(); err != nil {
			t.Fatalf("token %d does not work before the deletion: %v", i+1, err)
		}
	}

	if err := c.DeleteUser("bob"); err != nil {
		t.Fatal(err)
	}
	for i, bob := range []*client.Client{first, second} {
		if _, err := bob.VaultStatus(); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Errorf("token %d after the deletion: got %v, want unauthenticated", i+1, err)
		}
	}
	_, err := c.Login(&api.LoginRequest{User: "bob", Password: sec(userPassword("bob"))})
	wantCode(t, err, api.CodeUnauthenticated)
	users := must[*api.UserList](t)(c.ListUsers())
	for _, u := range users.Users {
		if u.Name == "bob" {
			t.Errorf("deleted user is still listed")
		}
	}
}

func TestNobodyDeletesThemselves(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	dora := newUser(t, s, "dora", nil)
	grant(t, s.Admin, "", "dora", "manage_permissions")
	cases := []struct {
		name string
		c    *client.Client
		user string
	}{
		{"administrator", s.Admin, "admin"},
		{"user with manage_permissions", dora, "dora"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, s)
			wantCode(t, tc.c.DeleteUser(tc.user), api.CodeInvalidArgument)
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("refused deletion changed the database (-got +want):\n%s", diff)
			}
			if _, err := tc.c.VaultStatus(); err != nil {
				t.Errorf("token stopped working: %v", err)
			}
		})
	}
	if err := dora.DeleteUser("admin"); err != nil {
		t.Errorf("a user with manage_permissions cannot delete another: %v", err)
	}
}

func TestRecreatedUserStartsWithoutGrants(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	demo(t, s.Admin, "Initial-Passw0rd!xyzxyzxyz")
	newUser(t, s, "bob", nil)
	grant(t, s.Admin, "f", "bob", "read", "checkout")
	if err := s.Admin.DeleteUser("bob"); err != nil {
		t.Fatal(err)
	}
	bob := newUser(t, s, "bob", nil)
	_, err := bob.Checkout(&api.CheckoutRequest{Path: "f/web/root", Type: "password"})
	wantCode(t, err, api.CodeForbidden)
	grants := must[*api.GrantList](t)(s.Admin.ListGrants("f"))
	for _, g := range grants.Grants {
		if g.Principal == "bob" {
			t.Errorf("deleted user's grant is still listed: %+v", g)
		}
	}
}
