package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/netx"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
)

const (
	cachePath     = "apps/cache/svc"
	alicePassword = "Alice-console-passw0rd"
	bobPassword   = "Bob-console-passw0rd!"
	typedV        = "Console-Typed-Passw0rd!xyz"
)

// consoleData prepares, through the API and the CLI, what the console
// tests look at: an InSync account on a file target, one that is NotInSync
// on another, SSH accounts whose target does not answer, a user with every
// permission and one who may only read the apps folder. It leaves the vault
// closed, as a restarted server has it.
func consoleData(t *testing.T, e *env) (file string, ag *agentProc) {
	t.Helper()
	file = e.fileTarget("dc1")
	ag = e.startAgent(e.enroll("dc1"), nil)
	e.waitAgentOnline(ag)

	cacheFile := filepath.Join(t.TempDir(), "cache.env")
	if err := os.WriteFile(cacheFile, []byte("REDIS_PASSWORD=not-what-passman-holds\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if _, err := e.passman("", args...); err != nil {
			t.Fatal(err)
		}
	}
	run("target", "create", "apps/cache", "--type", "file", "--address", "localhost", "--zone", "dc1",
		"--param", "path="+cacheFile, "--param", "key=REDIS_PASSWORD")
	run("account", "create", cachePath, "--credential", "password", "--generate")
	run("folder", "create", "infra")
	run("folder", "create", "infra/linux")
	closed := netx.ClosedPort(t)
	for _, host := range []string{"web02", "web03"} {
		run("target", "create", "infra/linux/"+host, "--type", "ssh", "--address", closed, "--zone", "dc1")
		for _, acct := range []string{"root", "deploy"} {
			run("account", "create", "infra/linux/"+host+"/"+acct, "--credential", "password", "--generate")
		}
	}
	res, err := e.c.Check(&api.CheckRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range res.Jobs {
		e.waitJob(j.ID)
	}
	if a := e.waitSettled(appPath); a.Status != model.InSync {
		t.Fatalf("%s is %s after a check, want InSync", appPath, a.Status)
	}
	if a := e.waitSettled(cachePath); a.Status != model.NotInSync {
		t.Fatalf("%s is %s after a check, want NotInSync", cachePath, a.Status)
	}

	for _, u := range []struct{ name, password, path, ops string }{
		{"alice", alicePassword, "", "all"},
		{"bob", bobPassword, "apps", "read"},
	} {
		if _, err := e.c.CreateUser(&api.UserCreateRequest{Name: u.name, Password: sec(u.password)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Grant(&api.GrantRequest{Path: u.path, To: u.name, Ops: []string{u.ops}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.c.CloseVault(); err != nil {
		t.Fatal(err)
	}
	return file, ag
}

func TestConsole(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file, ag := consoleData(t, e)
	b := newBrowser(t, e)

	t.Run("login and open the vault", func(t *testing.T) {
		b.t = t
		if status, _ := b.fetchStatus("GET", "/v1/session", "", nil); status != 401 {
			t.Errorf("GET /v1/session before login: %d, want 401", status)
		}
		b.waitJS("the login page", `document.querySelector('#login-user')`)
		b.typeInto("#login-user", "alice")
		b.typeInto("#login-password", "wrong password")
		b.click("#login-submit")
		b.waitJS("the refusal",
			`document.querySelector('#login-error').textContent.includes('wrong user name or password')`)
		b.typeInto("#login-password", alicePassword)
		b.click("#login-submit")
		b.waitJS("the closed vault page", `document.querySelector('#vault-key')`)
		if b.exists("#accounts-table") || strings.Contains(b.text("body"), "apps") {
			t.Error("the closed vault page shows the vault's content")
		}
		b.typeInto("#vault-key", string(e.srv.Bootstrap.VaultKey.Reveal()))
		b.click("#vault-open")
		b.waitJS("the accounts", `document.querySelectorAll('#accounts-table tbody tr[data-path]').length >= 6`)
		cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(cookies.Cookies) != 1 {
			t.Fatalf("%d cookies, want the session cookie alone", len(cookies.Cookies))
		}
		ck := cookies.Cookies[0]
		if !ck.HTTPOnly || !ck.Secure || ck.SameSite != network.CookieSameSiteStrict {
			t.Errorf("session cookie HttpOnly=%v Secure=%v SameSite=%q, want true, true, Strict",
				ck.HTTPOnly, ck.Secure, ck.SameSite)
		}
	})

	t.Run("home screen", func(t *testing.T) {
		b.t = t
		if got := b.text(`.tree-item[data-folder=""]`); got != "Vault" {
			t.Errorf("the tree's root is %q, want Vault", got)
		}
		for _, tab := range []string{"accounts", "targets", "jobs", "agents", "audit"} {
			if !b.exists("#tab-" + tab) {
				t.Errorf("no %s tab for a user with every permission", tab)
			}
		}
		want := []string{cachePath, appPath}
		if got := b.rowPaths("#accounts-table"); !slices.Equal(got[:2], want) {
			t.Errorf("first rows %v, want %v", got, want)
		}
		b.shot("home")

		b.selectValue("#acct-status", "NotInSync")
		b.waitJS("the NotInSync filter", `[...document.querySelectorAll('#accounts-table tbody tr[data-path]')]
			.every((r) => r.querySelector('.pill').textContent === 'NotInSync')
			&& document.querySelectorAll('#accounts-table tbody tr[data-path]').length === 5`)
		b.selectValue("#acct-status", "")
		b.typeInto("#acct-search", "svc")
		b.waitJS("the search", `document.querySelectorAll('#accounts-table tbody tr[data-path]').length === 1`)
		if got := b.rowPaths("#accounts-table"); !slices.Equal(got, []string{cachePath}) {
			t.Errorf("search svc shows %v", got)
		}
		b.setInput("#acct-search", "")

		b.click(`.tree-item[data-folder="infra"]`)
		b.waitJS("the infra folder", `document.querySelectorAll('#accounts-table tbody tr[data-path]').length === 4`)
		b.click("#tab-targets")
		b.waitJS("the targets", `document.querySelectorAll('#targets-table tbody tr[data-path]').length === 2`)
		if got := b.text(`#targets-table tr[data-path="infra/linux/web02"] td.num`); got != "2" {
			t.Errorf("Acc.# of web02 is %q, want 2", got)
		}
		b.menu("infra/linux/web02")
		b.choose("Accounts")
		b.waitJS("the target's accounts window",
			`document.querySelectorAll('#target-accounts tbody tr[data-path]').length === 2`)
		b.click("#target-accounts header button")
		b.click(`.tree-item[data-folder=""]`)
		b.click("#tab-accounts")
		b.waitJS("every account", `document.querySelectorAll('#accounts-table tbody tr[data-path]').length === 6`)
	})

	t.Run("reset a NotInSync account in the database only", func(t *testing.T) {
		b.t = t
		before := e.checkout(cachePath, model.Password)
		b.openReset(cachePath)
		if got := b.text("#reset-dialog-title"); got != "Reset credential for svc" {
			t.Errorf("dialog title %q", got)
		}
		b.click("#reset-on-target")
		if b.visible("#reset-warning") {
			t.Error("a warning about losing InSync on an account that is not InSync")
		}
		b.click("#reset-generate")
		b.waitJS("the outcome", `document.querySelector('#new-status')`)
		a, err := e.c.ShowAccount(cachePath)
		if err != nil {
			t.Fatal(err)
		}
		cr := a.Credentials[0]
		if !strings.Contains(b.text("#new-status"), string(cr.Status)) {
			t.Errorf("the dialog says %q, the API %s", b.text("#new-status"), cr.Status)
		}
		if after := e.checkout(cachePath, model.Password); after == before || cr.Version != 2 {
			t.Errorf("the value did not change in the database (version %d)", cr.Version)
		}
		b.click("#reset-close")
	})

	var generated string
	t.Run("reset an InSync account on the target", func(t *testing.T) {
		b.t = t
		b.openReset(appPath)
		if !js[bool](b, `document.querySelector('#reset-on-target').checked`) {
			t.Error("Change on target is not checked by default")
		}
		b.typeInto("#reset-value", typedV)
		b.click("#reset-value-eye")
		if js[string](b, `document.querySelector('#reset-value').type`) != "text" {
			t.Error("the eye icon does not show what was typed")
		}
		b.click("#reset-on-target")
		b.waitJS("the warning", `document.querySelector('#reset-warning').offsetParent !== null`)
		if !strings.Contains(b.text("#reset-warning"), "lose InSync") {
			t.Errorf("warning says %q", b.text("#reset-warning"))
		}
		b.shot("reset-dialog")
		b.click("#reset-save")
		b.waitJS("the confirmation", `document.querySelector('#confirm-panel')`)
		b.shot("reset-confirm")
		b.click("#confirm-back")
		if a, _ := e.c.ShowAccount(appPath); a.Status != model.InSync || a.Credentials[0].Version != 1 {
			t.Fatalf("going back changed the account: %s version %d", a.Status, a.Credentials[0].Version)
		}
		b.click("#reset-on-target")
		if b.visible("#reset-warning") {
			t.Error("the warning stays with Change on target checked")
		}
		b.click("#reset-generate")
		b.waitJS("the job's end", `document.querySelector('#job-outcome')`)
		if got := b.text("#new-status"); !strings.Contains(got, "InSync") || strings.Contains(got, "NotInSync") {
			t.Errorf("after the job the dialog says %q", got)
		}
		b.shot("reset-done")
		generated = e.checkout(appPath, model.Password)
		if !fileHolds(t, file, generated) || generated == initialV {
			t.Error("the target does not hold the generated value")
		}
		b.click("#reset-close")
	})

	t.Run("database only on an InSync account needs confirmation", func(t *testing.T) {
		b.t = t
		b.openReset(appPath)
		b.click("#reset-on-target")
		b.typeInto("#reset-value", typedV)
		b.click("#reset-save")
		b.waitJS("the confirmation", `document.querySelector('#confirm-lose-insync')`)
		b.click("#confirm-lose-insync")
		b.waitJS("the outcome", `document.querySelector('#new-status')`)
		a, err := e.c.ShowAccount(appPath)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status == model.InSync || !strings.Contains(b.text("#new-status"), string(a.Status)) {
			t.Errorf("after a forced database-only reset: API %s, dialog %q", a.Status, b.text("#new-status"))
		}
		if e.checkout(appPath, model.Password) != typedV || !fileHolds(t, file, generated) {
			t.Error("the typed value is not current, or the target changed")
		}
		recs, err := e.c.ListAudit(appPath, a.Created, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(recs.Records, func(r audit.Record) bool {
			return r.Actor == "alice" && strings.Contains(r.Detail, "database only, forced")
		}) {
			t.Error("the audit does not say alice forced a database-only change")
		}
		b.click("#reset-close")
	})

	t.Run("checkout shows the value once", func(t *testing.T) {
		b.t = t
		b.menu(appPath)
		b.choose("CheckOut")
		b.click("#checkout-go")
		b.waitJS("the value", `document.querySelector('#checkout-value')`)
		if got := b.text("#checkout-value"); got != e.checkout(appPath, model.Password) {
			t.Error("the console shows another value than the API")
		}
		b.shot("checkout")
		b.click("#checkout-close")
		if strings.Contains(js[string](b, `document.documentElement.outerHTML`), typedV) {
			t.Error("the value stays in the page after the dialog closed")
		}
		if n := js[int](b, `localStorage.length + sessionStorage.length`); n != 0 {
			t.Errorf("the console keeps %d items in web storage", n)
		}
		if loc := js[string](b, `location.href`); strings.Contains(loc, typedV) || strings.Contains(loc, generated) {
			t.Error("a secret in the URL")
		}
	})

	t.Run("details show each credential, its revisions and the last action", func(t *testing.T) {
		b.t = t
		b.menu(appPath)
		b.choose("Details")
		b.waitJS("the revisions, newest first", `[...document.querySelectorAll(
			'#details-dialog .revisions tr td:first-child')].map((td) => td.textContent).join() === '3,2,1'`)
		card := b.text("#details-dialog .cred-card")
		for _, want := range []string{"Password", "Compliant", "default-password"} {
			if !strings.Contains(card, want) {
				t.Errorf("the credential's card lacks %q: %q", want, card)
			}
		}
		if last := b.text("#details-last-action"); !strings.Contains(last, "alice") {
			t.Errorf("last action %q does not say alice ran it", last)
		}
		b.shot("details")
		b.click("#details-dialog header button")
	})

	t.Run("bulk check shows progress", func(t *testing.T) {
		b.t = t
		b.click(`tr[data-path="` + appPath + `"] td.sel input`)
		b.click(`tr[data-path="` + cachePath + `"] td.sel input`)
		b.click("#check-selected")
		b.waitJS("both checks",
			`document.querySelector('#check-summary').textContent.startsWith('2 of 2 checks finished')`)
		b.click("#check-close")
	})

	t.Run("requests without the CSRF token are refused", func(t *testing.T) {
		b.t = t
		body := fmt.Sprintf(`{"path":%q,"type":"password","generate":true,"database_only":true,"force":true}`,
			cachePath)
		before, _ := e.c.ShowAccount(cachePath)
		if status, code := b.fetchStatus("POST", "/v1/accounts/reset", body, nil); status != 403 || code != "csrf" {
			t.Errorf("reset without the CSRF token: %d %s, want 403 csrf", status, code)
		}
		bad := map[string]string{"X-CSRF-Token": "forged"}
		if status, code := b.fetchStatus("POST", "/v1/accounts/reset", body, bad); status != 403 || code != "csrf" {
			t.Errorf("reset with a forged CSRF token: %d %s, want 403 csrf", status, code)
		}
		after, _ := e.c.ShowAccount(cachePath)
		if after.Credentials[0].Version != before.Credentials[0].Version {
			t.Error("a refused request changed the account")
		}
	})

	t.Run("logout", func(t *testing.T) {
		b.t = t
		b.click("#logout")
		b.waitJS("the login page", `document.querySelector('#login-user')`)
		if status, _ := b.fetchStatus("GET", "/v1/session", "", nil); status != 401 {
			t.Errorf("GET /v1/session after logout: %d, want 401", status)
		}
	})

	t.Run("a user without permission sees no actions and is refused", func(t *testing.T) {
		b.t = t
		b.typeInto("#login-user", "bob")
		b.typeInto("#login-password", bobPassword)
		b.click("#login-submit")
		b.waitJS("bob's accounts", `document.querySelectorAll('#accounts-table tbody tr[data-path]').length === 2`)
		if b.exists("#tab-audit") {
			t.Error("bob sees the Audit tab")
		}
		if got := b.menu(appPath); !slices.Equal(got, []string{"Details"}) {
			t.Errorf("bob's menu %v, want Details alone", got)
		}
		b.choose("Details")
		b.waitJS("the details", `document.querySelector('#details-dialog .cred-card')`)
		b.click("#details-dialog header button")
		csrf := js[string](b, `fetch('/v1/session').then((r) => r.json()).then((s) => s.csrf_token)`)
		body := fmt.Sprintf(`{"path":%q,"type":"password","generate":true}`, appPath)
		status, code := b.fetchStatus("POST", "/v1/accounts/reset", body, map[string]string{"X-CSRF-Token": csrf})
		if status != 403 || code != "forbidden" {
			t.Errorf("bob's reset: %d %s, want 403 forbidden", status, code)
		}
		checkout := fmt.Sprintf(`{"path":%q,"type":"password"}`, appPath)
		status, code = b.fetchStatus("POST", "/v1/accounts/checkout", checkout, map[string]string{"X-CSRF-Token": csrf})
		if status != 403 || code != "forbidden" {
			t.Errorf("bob's checkout: %d %s, want 403 forbidden", status, code)
		}
	})

	e.noSecrets([]*agentProc{ag}, initialV, typedV, generated, alicePassword, bobPassword,
		string(e.srv.Bootstrap.VaultKey.Reveal()))
}
