package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
	"github.com/passman-dev/passman/server/vault"
)

// The secret values the tests type. None may reach the server's log.
const (
	firstPassword = "First-Password-0001"
	typedPassword = "Typed-Password-0002"
	bobPassword   = "bob-password-0003"
)

// acct is the account seed creates.
const acct = demoAccount

// testServer is a server started for one test, with its vault open, and
// the environment the command line needs to reach it as the
// administrator.
type testServer struct {
	*testserver.Server
	env      map[string]string
	vaultKey string
	token    string
}

// result is what one run of the command line did.
type result struct {
	code           int
	stdout, stderr string
}

// startServer starts a server, opens its vault through the command line
// and checks at cleanup that no secret reached the server's log.
func startServer(t *testing.T) *testServer {
	t.Helper()
	srv := testserver.StartClosed(t)
	ts := &testServer{Server: srv, vaultKey: string(srv.Bootstrap.VaultKey.Reveal()),
		token: string(srv.Bootstrap.AdminToken.Reveal())}
	ts.env = map[string]string{
		"PASSMAN_ADDR":   "https://" + srv.Addr(),
		"PASSMAN_TOKEN":  ts.token,
		"PASSMAN_CACERT": server.CACertPath(srv.Dir),
	}
	t.Cleanup(func() {
		srv.CheckLogs(t, ts.vaultKey, ts.token, firstPassword, typedPassword, bobPassword)
	})
	ts.must(t, ts.vaultKey+"\n", "vault", "open", "--value-stdin")
	return ts
}

// runCLI runs the command line with env and stdin.
func runCLI(env map[string]string, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(append([]string{"passman"}, args...), strings.NewReader(stdin), &out, &errb,
		func(k string) string { return env[k] })
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// run runs the command line as the administrator.
func (ts *testServer) run(stdin string, args ...string) result {
	return runCLI(ts.env, stdin, args...)
}

// as returns the environment with another token.
func (ts *testServer) as(token string) map[string]string {
	env := map[string]string{}
	for k, v := range ts.env {
		env[k] = v
	}
	env["PASSMAN_TOKEN"] = token
	return env
}

// must runs the command line as the administrator and fails the test
// unless it succeeds.
func (ts *testServer) must(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := ts.run(stdin, args...)
	if r.code != 0 {
		t.Fatalf("passman %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// mustJSON runs a command with --output json and decodes its output.
func (ts *testServer) mustJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	r := ts.must(t, "", append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("passman %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// seed creates the folder demo, the target demo/web01 and the account
// demo/web01/app with firstPassword.
func (ts *testServer) seed(t *testing.T) {
	t.Helper()
	ts.must(t, "", "folder", "create", "demo")
	ts.must(t, "", "target", "create", "demo/web01", "--type", "file", "--address", "localhost",
		"--zone", "local", "--param", "path=/tmp/app.env", "--param", "key=DB_PASSWORD")
	ts.must(t, firstPassword+"\n", "account", "create", acct,
		"--credential", "password", "--value-stdin")
}

func TestServerInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(nil, "", "server", "init", "--data", dir, "--output", "json")
	if r.code != 0 {
		t.Fatalf("server init: exit %d, stderr %q", r.code, r.stderr)
	}
	var got initOutput
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("server init output is not JSON: %v", err)
	}
	if got.VaultKeyName != "initial" || got.Admin != "admin" ||
		len(got.VaultKey) < vault.MinKeyLength || got.AdminToken == "" ||
		got.CACert != server.CACertPath(dir) {
		t.Errorf("server init printed %+v", got)
	}
	if _, err := os.Stat(got.CACert); err != nil {
		t.Errorf("CA certificate: %v", err)
	}

	again := runCLI(nil, "", "server", "init", "--data", dir)
	if again.code != exitFailed || !strings.Contains(again.stderr, "already holds") {
		t.Errorf("server init on a vault: exit %d, stderr %q; want 1", again.code, again.stderr)
	}
}

func TestServerInitTable(t *testing.T) {
	dir := t.TempDir()
	m := &cmdline{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{},
		getenv: func(string) string { return "" }, vault: testserver.FastVault}
	code := m.run([]string{"passman", "server", "init", "--data", dir, "--admin", "root"})
	if code != 0 {
		t.Fatalf("server init: exit %d, stderr %q", code, m.stderr)
	}
	out := m.stdout.(*bytes.Buffer).String()
	for _, want := range []string{"vault key name:", "vault key:", "administrator:", "root",
		"admin token:", server.CACertPath(dir), "passman server run --data " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("server init output lacks %q:\n%s", want, out)
		}
	}
}

func TestDev(t *testing.T) {
	stdout, stderr := &logbuf.Buffer{}, &logbuf.Buffer{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	m := &cmdline{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr,
		getenv: func(string) string { return "" }, vault: testserver.FastVault,
		stopContext: func() (context.Context, context.CancelFunc) { return ctx, func() {} }}
	done := make(chan int, 1)
	go func() { done <- m.run([]string{"passman", "dev", "--listen", "127.0.0.1:0"}) }()

	env := waitForBanner(t, stdout, done)
	r := runCLI(env, "", "account", "list", "--output", "json")
	if r.code != 0 {
		t.Fatalf("account list: exit %d, stderr %q", r.code, r.stderr)
	}
	var list struct {
		Accounts []struct{ Path, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("account list output: %v", err)
	}
	if len(list.Accounts) != 1 || list.Accounts[0].Path != demoAccount {
		t.Errorf("dev accounts = %+v, want %s", list.Accounts, demoAccount)
	}
	co := runCLI(env, "", "account", "checkout", demoAccount, "--type", "password")
	dataDir := filepath.Dir(env["PASSMAN_CACERT"])
	envFile, err := os.ReadFile(filepath.Join(dataDir, "demo", "app.env"))
	if err != nil || string(envFile) != "DB_PASSWORD="+co.stdout {
		t.Errorf("demo target file = %q, %v; want the demo password", envFile, err)
	}

	stop()
	if code := <-done; code != 0 {
		t.Errorf("dev exited %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Dir(env["PASSMAN_CACERT"])); !os.IsNotExist(err) {
		t.Errorf("dev left its data directory: %v", err)
	}
	if strings.Contains(stderr.String(), env["PASSMAN_TOKEN"]) {
		t.Errorf("dev logged its token")
	}
}

// waitForBanner waits for passman dev to print its exports and returns
// them.
func waitForBanner(t *testing.T, stdout *logbuf.Buffer, done <-chan int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl-C") {
		select {
		case code := <-done:
			t.Fatalf("dev exited %d before its banner", code)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dev banner after 30s: %q", stdout)
		}
	}
	env := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	for _, k := range []string{"PASSMAN_ADDR", "PASSMAN_TOKEN", "PASSMAN_CACERT"} {
		if env[k] == "" {
			t.Fatalf("dev banner lacks %s:\n%s", k, stdout)
		}
	}
	return env
}

func TestUsageErrors(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	tests := []struct {
		name  string
		stdin string
		args  string // split on spaces
	}{
		{"unknown command", "", "frobnicate"},
		{"unknown subcommand", "", "account frobnicate"},
		{"unknown flag", "", "account list --bogus"},
		{"help topic", "", "help frobnicate"},
		{"force without no-change-on-target", "",
			"account reset demo/web01/app --type password --generate --force"},
		{"generate with value-stdin", "x\n",
			"account reset demo/web01/app --type password --generate --value-stdin"},
		{"missing PATH", "", "account show"},
		{"extra argument", "", "account show a/b/c d/e/f"},
		{"missing type", "", "account reset demo/web01/app --generate"},
		{"bad type", "", "account reset demo/web01/app --type passwd --generate"},
		{"param without =", "",
			"target create demo/db --type file --address h --zone z --param novalue"},
		{"missing zone", "", "target create demo/db --type file --address h"},
		{"bad for", "", "account checkout demo/web01/app --type password --for soon"},
		{"negative for", "", "account checkout demo/web01/app --type password --for -1h"},
		{"bad output", "", "account list --output yaml"},
		{"bad int", "", "audit list --limit many"},
		{"bad since", "", "audit list --since yesterday"},
		{"bad revision", "", "account restore demo/web01/app --type password --revision one"},
		{"missing revision", "", "account restore demo/web01/app --type password"},
		{"prompt without a terminal", "", "account reset demo/web01/app --type password"},
		{"policy with two credentials", "", "account create demo/web01/x " +
			"--credential password --credential pin --policy default-password"},
		{"rule of another type", "", "policy create p --type password --bits 3072"},
		{"unknown operation", "", "permission grant demo --to admin --ops fly"},
		{"no-password with value-stdin", "", "user create eve --no-password --value-stdin"},
		{"bad log level", "", "server run --data " + t.TempDir() + " --log-level loud"},
		{"init without data", "", "server init"},
		{"session idle too short", "", "server run --data " + t.TempDir() + " --session-idle 5s"},
		{"session idle not a duration", "", "server run --data " + t.TempDir() + " --session-idle long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.run(tt.stdin, strings.Fields(tt.args)...)
			if r.code != exitUsage {
				t.Errorf("exit %d, stderr %q; want 2", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "passman: ") ||
				!strings.HasSuffix(r.stderr, "(usage)\n") {
				t.Errorf("stderr %q, want passman: <message> (usage)", r.stderr)
			}
		})
	}
	t.Run("no address", func(t *testing.T) {
		if r := runCLI(nil, "", "account", "list"); r.code != exitUsage ||
			!strings.Contains(r.stderr, "PASSMAN_ADDR") {
			t.Errorf("exit %d, stderr %q; want 2 naming PASSMAN_ADDR", r.code, r.stderr)
		}
	})
}

// markInSync makes every credential of an account InSync, as a successful
// check by an agent would.
func markInSync(t *testing.T, ts *testServer, accountID string) {
	t.Helper()
	err := ts.Service().Store().Update(func(tx *store.Tx) error {
		var cr model.Credential
		if err := tx.Get(store.CredentialKey(accountID, model.Password), &cr); err != nil {
			return err
		}
		cr.Status, cr.Reason = model.InSync, ""
		if err := tx.Put(store.CredentialKey(accountID, model.Password), &cr); err != nil {
			return err
		}
		if err := tx.Delete(store.StatusKey(model.Unknown, accountID)); err != nil {
			return err
		}
		return tx.PutRaw(store.StatusKey(model.InSync, accountID), nil)
	})
	if err != nil {
		t.Fatalf("marking account InSync: %v", err)
	}
}

func TestRefused(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	ts.must(t, bobPassword+"\n", "user", "create", "bob", "--value-stdin")
	login := ts.must(t, bobPassword+"\n", "login", "bob", "--value-stdin")
	bobToken, ok := strings.CutPrefix(strings.TrimSpace(login.stdout), "export PASSMAN_TOKEN=")
	if !ok {
		t.Fatalf("login printed %q", login.stdout)
	}

	var reset struct{ Job model.Job }
	ts.mustJSON(t, &reset, "account", "reset", acct, "--type", "password",
		"--generate", "--no-change-on-target")
	markInSync(t, ts, reset.Job.AccountID)

	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  string
	}{
		{"needs force", ts.env, typedPassword + "\n", []string{"account", "reset", acct,
			"--type", "password", "--value-stdin", "--no-change-on-target"}, "needs_force"},
		{"update needs force", ts.env, typedPassword + "\n", []string{"account", "update",
			acct, "--type", "password", "--value-stdin"}, "needs_force"},
		{"forbidden", ts.as(bobToken), "", []string{"folder", "create", "bobs"}, "forbidden"},
		{"forbidden user list", ts.as(bobToken), "", []string{"user", "list"}, "forbidden"},
		{"unknown token", ts.as("pm_nope"), "", []string{"account", "list"}, "unauthenticated"},
		{"wrong login", ts.env, "not-the-password\n", []string{"login", "bob", "--value-stdin"},
			"unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(tt.env, tt.stdin, tt.args...)
			if r.code != exitRefused || !strings.HasSuffix(r.stderr, "("+tt.code+")\n") {
				t.Errorf("exit %d, stderr %q; want 3 and %s", r.code, r.stderr, tt.code)
			}
		})
	}

	t.Run("forced", func(t *testing.T) {
		ts.must(t, typedPassword+"\n", "account", "reset", acct, "--type", "password",
			"--value-stdin", "--no-change-on-target", "--force")
	})
	t.Run("vault closed", func(t *testing.T) {
		ts.must(t, "", "vault", "close")
		if r := ts.run("", "account", "list"); r.code != exitRefused ||
			!strings.Contains(r.stderr, "(vault_closed)") {
			t.Errorf("account list on a closed vault: exit %d, stderr %q", r.code, r.stderr)
		}
		r := ts.run("wrong-vault-key-0000\n", "vault", "open", "--value-stdin")
		if r.code != exitRefused {
			t.Errorf("vault open with a wrong key: exit %d, stderr %q", r.code, r.stderr)
		}
		ts.must(t, ts.vaultKey+"\n", "vault", "open", "--value-stdin")
		if r := ts.must(t, "", "vault", "status"); r.stdout != "vault open\n" {
			t.Errorf("vault status = %q", r.stdout)
		}
	})
}

func TestFailures(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	tests := []struct {
		name string
		args []string
		code string
	}{
		{"account not found", []string{"account", "show", "demo/web01/nobody"}, "not_found"},
		{"job not found", []string{"job", "show", "nojob"}, "not_found"},
		{"duplicate folder", []string{"folder", "create", "demo"}, "already_exists"},
		{"folder not empty", []string{"folder", "delete", "demo"}, "not_empty"},
		{"invalid policy", strings.Fields("policy create tight --type password --length 8 " +
			"--min-lower 3 --min-upper 3 --min-digits 3 --min-symbols 3"), "invalid_policy"},
		{"last vault key", []string{"vault", "key", "remove", "initial"}, "last_vault_key"},
		{"short checkout", []string{"account", "checkout", acct, "--type", "password",
			"--for", "10s"}, "invalid_argument"},
		{"not checked out", []string{"account", "checkin", "demo/web01/app"}, "not_checked_out"},
		{"no such credential", []string{"account", "revisions", acct, "--type", "pin"},
			"no_credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.run("", tt.args...)
			if r.code != exitFailed || !strings.HasSuffix(r.stderr, "("+tt.code+")\n") {
				t.Errorf("exit %d, stderr %q; want 1 and %s", r.code, r.stderr, tt.code)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		env := ts.as(ts.token)
		env["PASSMAN_ADDR"] = "https://127.0.0.1:1"
		if r := runCLI(env, "", "vault", "status"); r.code != exitFailed {
			t.Errorf("exit %d, stderr %q; want 1", r.code, r.stderr)
		}
	})
}

func TestJSONOutput(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	tests := []struct {
		name string
		args []string
		keys []string
	}{
		{"vault status", []string{"vault", "status"}, []string{"open"}},
		{"folder list", []string{"folder", "list"}, []string{"folders"}},
		{"target show", []string{"target", "show", "demo/web01"},
			[]string{"path", "type", "address", "zone", "params", "accounts", "created"}},
		{"account list", []string{"account", "list"}, []string{"accounts"}},
		{"account show", []string{"account", "show", "demo/web01/app"},
			[]string{"path", "target", "name", "status", "credentials", "created"}},
		{"reset", []string{"account", "reset", acct, "--type", "password", "--generate",
			"--no-change-on-target"}, []string{"job", "account"}},
		{"checkout", []string{"account", "checkout", acct, "--type", "password"},
			[]string{"path", "type", "version", "value"}},
		{"revisions", []string{"account", "revisions", acct, "--type", "password"},
			[]string{"revisions"}},
		{"policy show", []string{"policy", "show", "default-pin"}, []string{"name", "type", "pin"}},
		{"job list", []string{"job", "list"}, []string{"jobs"}},
		{"user list", []string{"user", "list"}, []string{"users"}},
		{"permission list", []string{"permission", "list", "/"}, []string{"grants"}},
		{"audit list", []string{"audit", "list", "--limit", "3"}, []string{"records"}},
		{"audit verify", []string{"audit", "verify"}, []string{"ok", "records"}},
		{"vault key list", []string{"vault", "key", "list"}, []string{"keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			ts.mustJSON(t, &doc, tt.args...)
			for _, k := range tt.keys {
				if _, ok := doc[k]; !ok {
					t.Errorf("output lacks %q: %v", k, doc)
				}
			}
		})
	}
	t.Run("global flag and error", func(t *testing.T) {
		r := ts.run("", "--output", "json", "account", "show", "demo/web01/nobody")
		var e map[string]string
		if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || r.stdout != "" {
			t.Fatalf("stderr %q, stdout %q: want one JSON error on stderr", r.stderr, r.stdout)
		}
		if e["code"] != "not_found" || e["message"] == "" || r.code != exitFailed {
			t.Errorf("error %v, exit %d", e, r.code)
		}
	})
	t.Run("usage error", func(t *testing.T) {
		r := ts.run("", "account", "show", "-o", "json")
		var e map[string]string
		if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || e["code"] != "usage" {
			t.Errorf("stderr %q: want a JSON usage error", r.stderr)
		}
	})
}

func TestResetAndCheckout(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	checkout := func(t *testing.T) string {
		t.Helper()
		return strings.TrimSuffix(ts.must(t, "", "account", "checkout", acct,
			"--type", "password").stdout, "\n")
	}
	if got := checkout(t); got != firstPassword {
		t.Fatalf("checkout after create = %q", got)
	}

	r := ts.must(t, typedPassword+"\r\n", "account", "reset", acct, "--type", "password",
		"--value-stdin", "--no-change-on-target", "--wait")
	if !strings.Contains(r.stdout, "state:") || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("reset printed %q", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, typedPassword) {
		t.Errorf("reset printed the value")
	}
	if got := checkout(t); got != typedPassword {
		t.Errorf("checkout after reset = %q, want the typed value", got)
	}

	ts.must(t, "", "account", "reset", acct, "--type", "password", "--generate",
		"--no-change-on-target")
	if got := checkout(t); got == typedPassword || len(got) != 24 {
		t.Errorf("checkout after a generated reset = %q, want a new 24-character value", got)
	}

	ts.must(t, "", "account", "restore", acct, "--type", "password", "--revision", "1",
		"--no-change-on-target")
	if got := checkout(t); got != firstPassword {
		t.Errorf("checkout after restoring revision 1 = %q", got)
	}
	var revs struct{ Revisions []struct{ N uint64 } }
	ts.mustJSON(t, &revs, "account", "revisions", acct, "--type", "password")
	if len(revs.Revisions) != 4 {
		t.Errorf("revisions = %+v, want 4", revs.Revisions)
	}
}

func TestResetOnTargetWaits(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	r := ts.must(t, "", "account", "reset", acct, "--type", "password", "--generate")
	if !strings.Contains(r.stdout, string(model.JobWaitingAgent)) {
		t.Errorf("reset on target: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = ts.run("", "account", "reset", acct, "--type", "password", "--generate")
	if r.code != exitFailed || !strings.Contains(r.stderr, "(changing)") {
		t.Errorf("second reset while changing: exit %d, stderr %q", r.code, r.stderr)
	}
	var jobs struct{ Jobs []model.Job }
	ts.mustJSON(t, &jobs, "job", "list", "--state", "waiting_agent")
	if len(jobs.Jobs) != 1 {
		t.Fatalf("waiting jobs = %+v", jobs.Jobs)
	}
	r = ts.must(t, "", "job", "show", jobs.Jobs[0].ID)
	if !strings.Contains(r.stdout, "waiting_agent") {
		t.Errorf("job show printed %q", r.stdout)
	}
}

func TestExclusiveCheckout(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	r := ts.must(t, "", "account", "checkout", acct, "--type", "password", "--for", "1d",
		"--reason", "maintenance")
	if r.stdout != firstPassword+"\n" || !strings.Contains(r.stderr, "exclusively until") {
		t.Errorf("checkout: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	var a struct {
		Credentials []struct{ Checkout *model.Checkout }
	}
	ts.mustJSON(t, &a, "account", "show", acct)
	if co := a.Credentials[0].Checkout; co == nil || co.Reason != "maintenance" ||
		co.Until.Sub(co.Since) != 24*time.Hour {
		t.Errorf("checkout recorded as %+v", co)
	}
	ts.must(t, "", "account", "checkin", acct, "--type", "password")
}

func TestPolicyCreate(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"explicit zeros survive",
			strings.Fields("--type password --length 12 --min-symbols 0 --exclude 0O"),
			`{"length":12,"min_lower":1,"min_upper":1,"min_digits":1,"min_symbols":0,` +
				`"symbols":"!#%+-.:=?@^_~","exclude":"0O"}`},
		{"pin", strings.Fields("--type pin --length 8"),
			`{"length":8,"max_repeat":1,"max_run":2}`},
		{"rsa", strings.Fields("--type ssh-key --algorithm rsa"),
			`{"algorithm":"rsa","bits":3072}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "p" + string(rune('a'+i))
			ts.must(t, "", append([]string{"policy", "create", name}, tt.args...)...)
			var p map[string]json.RawMessage
			ts.mustJSON(t, &p, "policy", "show", name)
			var rules json.RawMessage
			for k, v := range p {
				if k != "name" && k != "type" {
					rules = v
				}
			}
			var got, want any
			_ = json.Unmarshal(rules, &got)
			_ = json.Unmarshal([]byte(tt.want), &want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("rules (-got +want):\n%s", diff)
			}
		})
	}
}

func TestUsersAndPermissions(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	ts.must(t, "", "user", "create", "robot", "--no-password", "--group", "ops")
	ts.must(t, bobPassword+"\n", "user", "create", "bob", "--value-stdin", "--group", "ops")
	login := ts.must(t, bobPassword+"\n", "login", "bob", "--value-stdin", "-o", "json")
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(login.stdout), &tok); err != nil || tok.Token == "" {
		t.Fatalf("login output %q", login.stdout)
	}
	bob := ts.as(tok.Token)

	ts.must(t, "", "permission", "grant", "demo", "--to", "@ops", "--ops", "read,checkout")
	r := runCLI(bob, "", "account", "list", "--folder", "demo")
	if !strings.Contains(r.stdout, acct) {
		t.Errorf("bob's account list after the grant: %q %q", r.stdout, r.stderr)
	}
	r = runCLI(bob, "", "account", "checkout", acct, "--type", "password")
	if r.code != 0 {
		t.Errorf("bob's checkout: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ts.must(t, "", "permission", "list", acct)
	if !strings.Contains(r.stdout, "@ops") || !strings.Contains(r.stdout, "read,checkout") {
		t.Errorf("permission list printed %q", r.stdout)
	}
	ts.must(t, "", "permission", "revoke", "demo", "--to", "@ops", "--ops", "checkout")
	r = runCLI(bob, "", "account", "checkout", acct, "--type", "password")
	if r.code != exitRefused {
		t.Errorf("bob's checkout after the revoke: exit %d, stderr %q", r.code, r.stderr)
	}
	ts.must(t, "", "permission", "grant", "/", "--to", "robot", "--ops", "read_audit")

	ts.must(t, "", "user", "delete", "bob")
	if r := runCLI(bob, "", "account", "list"); r.code != exitRefused {
		t.Errorf("deleted user's token: exit %d", r.code)
	}
	r = ts.must(t, "", "user", "list")
	if !strings.Contains(r.stdout, "robot") || strings.Contains(r.stdout, "bob") {
		t.Errorf("user list printed %q", r.stdout)
	}
}

func TestVaultKeys(t *testing.T) {
	ts := startServer(t)
	r := ts.must(t, "", "vault", "key", "add", "backup", "--generate", "-o", "json")
	var added struct {
		Name         string `json:"name"`
		GeneratedKey string `json:"generated_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &added); err != nil || added.GeneratedKey == "" {
		t.Fatalf("vault key add printed %q", r.stdout)
	}
	ts.must(t, "typed-vault-key-0001\n", "vault", "key", "add", "typed", "--value-stdin")
	ts.must(t, "", "vault", "key", "remove", "initial")
	ts.must(t, "", "vault", "close")
	ts.must(t, added.GeneratedKey+"\n", "vault", "open", "--value-stdin")
	if r := ts.must(t, "", "vault", "key", "list"); r.stdout != "NAME\nbackup\ntyped\n" {
		t.Errorf("vault key list = %q", r.stdout)
	}
}

func TestAudit(t *testing.T) {
	ts := startServer(t)
	ts.seed(t)
	r := ts.must(t, "", "audit", "list", "--path", "demo/web01", "--since", "1h")
	if !strings.Contains(r.stdout, "target.create") || strings.Contains(r.stdout, "folder.create") {
		t.Errorf("audit list printed %q", r.stdout)
	}
	ts.must(t, "", "audit", "verify")

	// Break the chain by editing a stored record.
	st := ts.Service().Store()
	err := st.Update(func(tx *store.Tx) error {
		var rec audit.Record
		if err := tx.Get(store.AuditKey(2), &rec); err != nil {
			return err
		}
		rec.Detail = "edited"
		return tx.Put(store.AuditKey(2), rec)
	})
	if err != nil {
		t.Fatalf("editing audit record: %v", err)
	}
	r = ts.run("", "audit", "verify")
	if r.code != exitFailed || !strings.Contains(r.stderr, "broken") {
		t.Errorf("audit verify on a broken chain: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestReorderArgs(t *testing.T) {
	app := (&cmdline{}).newApp()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after path", []string{"target", "create", "f/t", "--type", "ssh", "--param", "a=b"},
			[]string{"target", "create", "--type", "ssh", "--param", "a=b", "f/t"}},
		{"bool flag before path", strings.Fields("account reset --generate a/b/c --type pin"),
			strings.Fields("account reset --generate --type pin a/b/c")},
		{"global flag first", []string{"-o", "json", "vault", "status"},
			[]string{"-o", "json", "vault", "status"}},
		{"flag=value", []string{"folder", "list", "demo", "--output=json"},
			[]string{"folder", "list", "--output=json", "demo"}},
		{"double dash", []string{"folder", "create", "--", "-odd"},
			[]string{"folder", "create", "--", "-odd"}},
		{"unknown command", []string{"nope", "x", "--y"}, []string{"nope", "x", "--y"}},
		{"help after path", strings.Fields("account show a/b/c --help"),
			strings.Fields("account show --help")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reorderArgs(app, append([]string{"passman"}, tt.in...))
			if diff := cmp.Diff(got[1:], tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2h", 2 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"1d", 24 * time.Hour, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"0s", 0, false},
		{"-1h", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v",
					tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc\nrest", "abc"},
		{"abc\r\n", "abc"},
		{"no newline", "no newline"},
		{"", ""},
	}
	for _, tt := range tests {
		r := strings.NewReader(tt.in)
		got, err := readLine(r)
		if err != nil || string(got) != tt.want {
			t.Errorf("readLine(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if tt.in == "abc\nrest" && r.Len() != len("rest") {
			t.Errorf("readLine read past the line")
		}
	}
}
