package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
)

// TestBadInputChangesNothing sends one bad request per case and checks the
// stable code, and that the database is exactly as it was, audit aside.
func TestBadInputChangesNothing(t *testing.T) {
	s := testserver.Start(t)
	c := s.Admin
	demo(t, c, "Initial-Passw0rd!xyzxyzxyz")
	must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: "eve", Password: sec("eve-password-123")}))
	eve := s.Client(t, []byte(must[*api.LoginResponse](t)(c.Login(&api.LoginRequest{User: "eve",
		Password: sec("eve-password-123")})).Token))
	anon := s.Client(t, nil)
	wrong := s.Client(t, []byte("pm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	long := strings.Repeat("n", 129)
	pw := model.Password
	tooStrict := policy.Default(pw)
	tooStrict.Name = "strict"
	tooStrict.Password.Length = 8
	tooStrict.Password.MinLower, tooStrict.Password.MinUpper = 3, 3
	tooStrict.Password.MinDigits, tooStrict.Password.MinSymbols = 3, 3

	cases := []struct {
		name string
		do   func() error
		code api.Code
	}{
		{"malformed json", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`{"path":`))
		}, api.CodeInvalidJSON},
		{"not an object", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`[1,2]`))
		}, api.CodeInvalidJSON},
		{"wrong json type", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`{"path":5}`))
		}, api.CodeInvalidJSON},
		{"trailing data", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`{"path":"x"}{}`))
		}, api.CodeInvalidJSON},
		{"empty body", func() error { return c.Raw(http.MethodPost, "/v1/folders", []byte(``)) }, api.CodeInvalidJSON},
		{"unknown field", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`{"path":"x","owner":"me"}`))
		}, api.CodeUnknownField},
		{"oversized body", func() error {
			return c.Raw(http.MethodPost, "/v1/folders", []byte(`{"path":"`+strings.Repeat("a", api.MaxBodyBytes)+`"}`))
		}, api.CodeBodyTooLarge},
		{"empty folder name", func() error { _, err := c.CreateFolder(""); return err }, api.CodeInvalidPath},
		{"oversized folder name", func() error { _, err := c.CreateFolder(long); return err }, api.CodeInvalidName},
		{"empty path element", func() error { _, err := c.CreateFolder("f//x"); return err }, api.CodeInvalidPath},
		{"leading slash", func() error { _, err := c.CreateFolder("/x"); return err }, api.CodeInvalidPath},
		{"dot dot", func() error { _, err := c.CreateFolder("f/.."); return err }, api.CodeInvalidName},
		{"control character", func() error {
			_, err := c.CreateFolder("bad\x01name")
			return err
		}, api.CodeInvalidName},
		{"newline in name", func() error { _, err := c.CreateFolder("bad\nname"); return err }, api.CodeInvalidName},
		{"user name with slash", func() error {
			_, err := c.CreateUser(&api.UserCreateRequest{Name: "a/b"})
			return err
		}, api.CodeInvalidName},
		{"policy name with slash", func() error {
			p := policy.Default(pw)
			p.Name = "a/b"
			_, err := c.CreatePolicy(&p)
			return err
		}, api.CodeInvalidName},
		{"duplicate folder", func() error { _, err := c.CreateFolder("f"); return err }, api.CodeAlreadyExists},
		{"duplicate target in folder", func() error {
			_, err := c.CreateTarget(&api.TargetCreateRequest{Path: "f/web", Type: "ssh", Address: "h:22", Zone: "z"})
			return err
		}, api.CodeAlreadyExists},
		{"folder named like a target", func() error {
			_, err := c.CreateFolder("f/web")
			return err
		}, api.CodeAlreadyExists},
		{"duplicate account on target", func() error {
			_, err := c.CreateAccount(&api.AccountCreateRequest{Path: "f/web/root",
				Credentials: []api.CredentialSpec{{Type: pw}}})
			return err
		}, api.CodeAlreadyExists},
		{"account under a folder", func() error {
			_, err := c.CreateAccount(&api.AccountCreateRequest{Path: "f/x",
				Credentials: []api.CredentialSpec{{Type: pw}}})
			return err
		}, api.CodeNotFound},
		{"target in missing folder", func() error {
			_, err := c.CreateTarget(&api.TargetCreateRequest{Path: "nope/web", Type: "ssh",
				Address: "h:22", Zone: "z"})
			return err
		}, api.CodeNotFound},
		{"bad address", func() error {
			_, err := c.CreateTarget(&api.TargetCreateRequest{Path: "f/db", Type: "ssh", Address: "h:99999", Zone: "z"})
			return err
		}, api.CodeInvalidArgument},
		{"unknown credential type on create", func() error {
			_, err := c.CreateAccount(&api.AccountCreateRequest{Path: "f/web/svc",
				Credentials: []api.CredentialSpec{{Type: "token"}}})
			return err
		}, api.CodeInvalidType},
		{"unknown credential type on reset", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: "token", Generate: true})
			return err
		}, api.CodeInvalidType},
		{"negative wait on reset", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, Generate: true, WaitSeconds: -1})
			return err
		}, api.CodeInvalidArgument},
		{"wait on reset past the longest", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, Generate: true, WaitSeconds: 51})
			return err
		}, api.CodeInvalidArgument},
		{"wait on reset not a number", func() error {
			return c.Raw(http.MethodPost, "/v1/accounts/reset",
				[]byte(`{"path":"f/web/root","type":"password","generate":true,"wait_seconds":"10s"}`))
		}, api.CodeInvalidJSON},
		{"credential the account lacks", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: model.PIN, Generate: true})
			return err
		}, api.CodeNoCredential},
		{"value and generate", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, Generate: true,
				Value: sec("Another-Passw0rd!abcdefgh"), DatabaseOnly: true})
			return err
		}, api.CodeInvalidArgument},
		{"no value", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, DatabaseOnly: true})
			return err
		}, api.CodeInvalidArgument},
		{"force without database only", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, Generate: true, Force: true})
			return err
		}, api.CodeInvalidArgument},
		{"value with a newline", func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw,
				Value: sec("line1\nline2-Passw0rd!abc"), DatabaseOnly: true})
			return err
		}, api.CodeInvalidValue},
		{"unsatisfiable policy", func() error {
			_, err := c.CreatePolicy(&tooStrict)
			return err
		}, api.CodeInvalidPolicy},
		{"policy of another type", func() error {
			_, err := c.CreateAccount(&api.AccountCreateRequest{Path: "f/web/svc",
				Credentials: []api.CredentialSpec{{Type: pw, Policy: "default-pin"}}})
			return err
		}, api.CodeInvalidPolicy},
		{"checkout too long", func() error {
			_, err := c.Checkout(&api.CheckoutRequest{Path: "f/web/root", Type: pw, ForSeconds: 365 * 86400})
			return err
		}, api.CodeInvalidArgument},
		{"unknown operation", func() error {
			_, err := c.Grant(&api.GrantRequest{Path: "f", To: "eve", Ops: []string{"fly"}})
			return err
		}, api.CodeInvalidArgument},
		{"grant to unknown user", func() error {
			_, err := c.Grant(&api.GrantRequest{Path: "f", To: "mallory", Ops: []string{"read"}})
			return err
		}, api.CodeNotFound},
		{"missing token", func() error {
			_, err := anon.ListAccounts("", "", "")
			return err
		}, api.CodeUnauthenticated},
		{"wrong token", func() error { _, err := wrong.ListAccounts("", "", ""); return err }, api.CodeUnauthenticated},
		{"forbidden reset", func() error {
			_, err := eve.Reset(&api.ResetRequest{Path: "f/web/root", Type: pw, Generate: true, DatabaseOnly: true})
			return err
		}, api.CodeForbidden},
		{"forbidden existence probe", func() error {
			_, err := eve.ShowAccount("f/web/ghost")
			return err
		}, api.CodeForbidden},
		{"forbidden vault key add", func() error {
			_, err := eve.AddVaultKey(&api.VaultKeyAddRequest{Name: "k2", Generate: true})
			return err
		}, api.CodeForbidden},
		{"short vault key", func() error {
			_, err := c.AddVaultKey(&api.VaultKeyAddRequest{Name: "k2", Key: sec("too-short")})
			return err
		}, api.CodeInvalidArgument},
		{"remove last vault key", func() error {
			return c.RemoveVaultKey(s.Bootstrap.VaultKeyName)
		}, api.CodeLastVaultKey},
		{"wrong vault key", func() error {
			_, err := c.OpenVault(&api.VaultOpenRequest{Key: sec("wrong-vault-key-0123456789")})
			return err
		}, api.CodeWrongVaultKey},
		{"delete non-empty folder", func() error { return c.DeleteFolder("f") }, api.CodeNotEmpty},
		{"unknown endpoint", func() error { return c.Raw(http.MethodGet, "/v1/nothing", nil) }, api.CodeNotFound},
		{"negative page size", func() error {
			return c.Raw(http.MethodGet, "/v1/accounts?limit=-1", nil)
		}, api.CodeInvalidArgument},
		{"page size not a number", func() error {
			return c.Raw(http.MethodGet, "/v1/accounts?limit=ten", nil)
		}, api.CodeInvalidArgument},
		{"page larger than the most", func() error {
			return c.Raw(http.MethodGet, "/v1/accounts?limit=501", nil)
		}, api.CodeInvalidArgument},
		{"negative offset", func() error {
			return c.Raw(http.MethodGet, "/v1/accounts?limit=10&offset=-5", nil)
		}, api.CodeInvalidArgument},
		{"unknown status filter", func() error {
			return c.Raw(http.MethodGet, "/v1/accounts?limit=10&status=Happy", nil)
		}, api.CodeInvalidArgument},
		{"console login with a wrong password", func() error {
			return anon.Raw(http.MethodPost, "/v1/session", []byte(`{"user":"eve","password":"not-her-password"}`))
		}, api.CodeUnauthenticated},
		{"console login with an unknown field", func() error {
			return anon.Raw(http.MethodPost, "/v1/session", []byte(`{"user":"eve","password":"x","remember":true}`))
		}, api.CodeUnknownField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, s)
			wantCode(t, tc.do(), tc.code)
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("database changed (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("refusals are audited", func(t *testing.T) {
		recs := must[*api.AuditList](t)(c.ListAudit("", time.Time{}, 10000))
		seen := map[string]bool{}
		for _, r := range recs.Records {
			seen[r.Code] = true
		}
		for _, code := range []api.Code{api.CodeForbidden, api.CodeWrongVaultKey, api.CodeUnauthenticated,
			api.CodeInvalidJSON, api.CodeLastVaultKey} {
			if !seen[string(code)] {
				t.Errorf("no audit record with code %s", code)
			}
		}
	})
	s.CheckLogs(t, "wrong-vault-key-0123456789", "eve-password-123",
		string(s.Bootstrap.AdminToken.Reveal()))
}

func TestClosedVaultAnswersNothingElse(t *testing.T) {
	s := testserver.Start(t)
	c := s.Admin
	demo(t, c, "Initial-Passw0rd!xyzxyzxyz")
	if err := c.CloseVault(); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	calls := map[string]func() error{
		"list accounts": func() error { _, err := c.ListAccounts("", "", ""); return err },
		"show account":  func() error { _, err := c.ShowAccount("f/web/root"); return err },
		"show missing":  func() error { _, err := c.ShowAccount("f/web/ghost"); return err },
		"list targets":  func() error { _, err := c.ListTargets(""); return err },
		"list folders":  func() error { _, err := c.ListFolders(""); return err },
		"checkout": func() error {
			_, err := c.Checkout(&api.CheckoutRequest{Path: "f/web/root", Type: model.Password})
			return err
		},
		"reset": func() error {
			_, err := c.Reset(&api.ResetRequest{Path: "f/web/root", Type: model.Password, Generate: true})
			return err
		},
		"create folder":   func() error { _, err := c.CreateFolder("g"); return err },
		"list jobs":       func() error { _, err := c.ListJobs(""); return err },
		"list vault keys": func() error { _, err := c.ListVaultKeys(); return err },
		"add vault key": func() error {
			_, err := c.AddVaultKey(&api.VaultKeyAddRequest{Name: "k2", Generate: true})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			wantCode(t, err, api.CodeVaultClosed)
			if strings.Contains(err.Error(), "root") || strings.Contains(err.Error(), "web") {
				t.Errorf("error %q names an object", err)
			}
		})
	}
	if diff := cmp.Diff(dump(t, s), before); diff != "" {
		t.Errorf("database changed (-got +want):\n%s", diff)
	}
	st := must[*api.VaultStatus](t)(c.VaultStatus())
	if st.Open {
		t.Errorf("vault status says open")
	}
	must[*api.VaultOpenResponse](t)(c.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(s.Bootstrap.VaultKey)}))
	must[*api.Account](t)(c.ShowAccount("f/web/root"))
}

func TestVaultKeys(t *testing.T) {
	s := testserver.Start(t)
	c := s.Admin
	added := must[*api.VaultKeyAddResponse](t)(c.AddVaultKey(&api.VaultKeyAddRequest{Name: "backup", Generate: true}))
	if len(added.GeneratedKey) < 16 {
		t.Fatalf("generated key has %d characters", len(added.GeneratedKey))
	}
	keys := must[*api.VaultKeyList](t)(c.ListVaultKeys())
	if diff := cmp.Diff(keys.Keys, []string{"backup", "initial"}); diff != "" {
		t.Errorf("keys (-got +want):\n%s", diff)
	}
	if err := c.RemoveVaultKey("initial"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseVault(); err != nil {
		t.Fatal(err)
	}
	_, err := c.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(s.Bootstrap.VaultKey)})
	wantCode(t, err, api.CodeWrongVaultKey)
	key := api.NewSecret(secret.FromString(added.GeneratedKey))
	must[*api.VaultOpenResponse](t)(c.OpenVault(&api.VaultOpenRequest{Key: key}))
	s.CheckLogs(t, added.GeneratedKey)
}
