package file_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"gopkg.in/yaml.v3"

	"github.com/passman-dev/passman/internal/drivertest"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/file"
	"github.com/passman-dev/passman/plugins/sdk"
)

// fixture is a file of one format that holds the credential "old pass"
// under key, among comments and other entries.
type fixture struct {
	format, ext, key, content string
}

const oldValue = "old pass"

var fixtures = []fixture{
	{"env", ".env", "DB_PASSWORD", `# database settings
export APP_NAME=demo   # the app
DB_PASSWORD="old pass" # rotate me
DB_HOST=localhost

EMPTY=
`},
	{"ini", ".ini", "database.password", `; service settings
name = demo
[database]
host = localhost
password = "old pass" ; rotate me
[cache]
password = other
`},
	{"properties", ".properties", "db.password", `# service settings
app.name = demo
db.password = old pass
db.url : jdbc:x\
    //host
! done
`},
	{"yaml", ".yaml", "db.password", `# service settings
app: demo
db:
  host: localhost   # primary
  password: "old pass"  # rotate me
  pool: [1, 2]

users:
  - name: a
`},
}

// nastyValues are new values that only survive correct quoting.
var nastyValues = []struct{ name, value string }{
	{"simple", "Tr0ub4dor"},
	// Long enough that no temporary path or timestamp in the log holds it.
	{"digits", "0123456789"},
	{"spaces", " lead and trail "},
	{"hash", "a#b #c"},
	{"quotes", `it's "quoted"`},
	{"equals", "a=b:c"},
	{"backslash", `back\slash\`},
	{"shell", "$HOME `id` $(x) ${y}"},
	{"semicolon", "a;b ;c"},
	{"unicode", "päss wörd 😀 密码"},
	{"yaml words", "true"},
	{"yaml indicators", "- {a: [b]} & *c !d |e >f %g @h"},
	{"bang", "!x"},
	{"tab", "a\tb"},
	{"everything", " #\"'=\\:;!$`\t~é😀 "},
}

// newDriver returns a driver whose log goes to a buffer the test checks
// for secrets at its end.
func newDriver(t *testing.T, secrets ...string) *file.Driver {
	t.Helper()
	var buf logbuf.Buffer
	t.Cleanup(func() {
		for _, s := range append(secrets, oldValue) {
			if strings.Contains(buf.String(), s) {
				t.Errorf("log holds a credential value:\n%s", buf.String())
			}
		}
	})
	return file.NewWithLogger(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace}))
}

// writeFixture writes f into dir and returns its path.
func writeFixture(t *testing.T, dir, name string, f fixture) string {
	t.Helper()
	path := filepath.Join(dir, name+f.ext)
	if err := os.WriteFile(path, []byte(f.content), 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func target(path, key string) sdk.Target {
	return sdk.Target{Params: map[string]string{file.ParamPath: path, file.ParamKey: key}}
}

func change(d *file.Driver, tg sdk.Target, typ, current, next string) error {
	_, err := d.Change(context.Background(), &sdk.ChangeRequest{
		JobID:   "job",
		Target:  tg,
		Type:    typ,
		Current: sdk.NewSecret([]byte(current)),
		New:     sdk.NewSecret([]byte(next)),
	})
	return err
}

func check(d *file.Driver, tg sdk.Target, value string) error {
	_, err := d.Check(context.Background(), &sdk.CheckRequest{
		JobID:      "job",
		Target:     tg,
		Credential: sdk.Credential{Type: sdk.Password, Value: sdk.NewSecret([]byte(value))},
	})
	return err
}

func TestChangeRoundTrip(t *testing.T) {
	var all []string
	for _, v := range nastyValues {
		all = append(all, v.value)
	}
	for _, f := range fixtures {
		t.Run(f.format, func(t *testing.T) {
			d, dir := newDriver(t, all...), t.TempDir()
			var paths []string
			for _, v := range nastyValues {
				t.Run(v.name, func(t *testing.T) {
					path := writeFixture(t, dir, v.name, f)
					tg := target(path, f.key)
					if err := change(d, tg, sdk.Password, oldValue, v.value); err != nil {
						t.Fatalf("Change: %v", err)
					}
					if err := check(d, tg, v.value); err != nil {
						t.Errorf("Check with the new value: %v", err)
					}
					if r := drivertest.Reason(t, check(d, tg, oldValue)); r != sdk.ReasonAuthFailed {
						t.Errorf("Check with the old value: reason %q, want %q",
							r, sdk.ReasonAuthFailed)
					}
					assertOneLineChanged(t, f.content, path)
					paths = append(paths, path)
				})
			}
			assertNoStrayFiles(t, dir, len(nastyValues))
			assertOthersRead(t, f, paths)
		})
	}
}

// assertOneLineChanged checks that the file at path differs from before
// in the one line that holds the key's value.
func assertOneLineChanged(t *testing.T, before, path string) {
	t.Helper()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, a := strings.Split(before, "\n"), strings.Split(string(after), "\n")
	if len(a) != len(b) {
		t.Fatalf("file has %d lines after the change, %d before", len(a), len(b))
	}
	changed := 0
	for i := range b {
		if a[i] != b[i] {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d lines changed, want 1:\n%s", changed, after)
	}
}

// assertNoStrayFiles checks that dir holds just the n files the test made.
func assertNoStrayFiles(t *testing.T, dir string, n int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %d files, want %d: %v", len(entries), n, names)
	}
}

// assertOthersRead checks, with a reader other than the driver where one
// is at hand, that each file holds the nasty value of the same index.
func assertOthersRead(t *testing.T, f fixture, paths []string) {
	t.Helper()
	if len(paths) != len(nastyValues) {
		return
	}
	var got []string
	switch f.format {
	case "env":
		got = readWithShell(t, paths, f.key)
	case "properties":
		got = readWithJava(t, paths, f.key)
	case "yaml":
		got = readWithYAML(t, paths)
	default:
		return
	}
	if len(got) != len(nastyValues) {
		t.Fatalf("another reader read %d values, want %d", len(got), len(nastyValues))
	}
	for i, v := range nastyValues {
		if got[i] != v.value {
			t.Errorf("%s: another reader sees %q, want %q", v.name, got[i], v.value)
		}
	}
}

// readWithShell sources each env file in bash and prints the variable.
func readWithShell(t *testing.T, paths []string, key string) []string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to read env files with")
	}
	script := `for f; do (set -a; . "$f"; printf '%s\0' "$` + key + `"); done`
	out, err := exec.Command("bash", append([]string{"-c", script, "bash"}, paths...)...).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// javaReader loads each properties file named on its command line, as
// ISO 8859-1 like Properties.load(InputStream), and prints the key's value
// as hexadecimal UTF-8.
const javaReader = `import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
public class Reader {
    public static void main(String[] args) throws Exception {
        for (int i = 1; i < args.length; i++) {
            Properties p = new Properties();
            try (InputStream in = new FileInputStream(args[i])) { p.load(in); }
            String v = p.getProperty(args[0], "");
            System.out.println(HexFormat.of().formatHex(v.getBytes(StandardCharsets.UTF_8)));
        }
    }
}
`

// readWithJava reads each properties file with java.util.Properties.
func readWithJava(t *testing.T, paths []string, key string) []string {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java to read properties files with")
	}
	src := filepath.Join(t.TempDir(), "Reader.java")
	if err := os.WriteFile(src, []byte(javaReader), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("java", append([]string{src, key}, paths...)...).Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	var got []string
	for _, h := range strings.Fields(string(out)) {
		var b []byte
		if _, err := fmt.Sscanf(h, "%x", &b); err != nil {
			t.Fatalf("java printed %q: %v", h, err)
		}
		got = append(got, string(b))
	}
	return got
}

// readWithYAML decodes each YAML file as an application would.
func readWithYAML(t *testing.T, paths []string) []string {
	t.Helper()
	var got []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			DB struct {
				Password string `yaml:"password"`
			} `yaml:"db"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got = append(got, doc.DB.Password)
	}
	return got
}

func TestChangeRefusals(t *testing.T) {
	tests := []struct {
		name    string
		fixture int
		req     func(*sdk.ChangeRequest)
		want    sdk.Reason
	}{
		{"wrong current", 0, func(r *sdk.ChangeRequest) {
			r.Current = sdk.NewSecret([]byte("old pas"))
		}, sdk.ReasonAuthFailed},
		{"reconcile", 1, func(r *sdk.ChangeRequest) {
			r.Reconcile = &sdk.Login{Account: "root"}
		}, sdk.ReasonUnsupported},
		{"ssh key", 2, func(r *sdk.ChangeRequest) { r.Type = sdk.SSHKey }, sdk.ReasonUnsupported},
		{"empty new", 3, func(r *sdk.ChangeRequest) { r.New = sdk.Secret{} }, sdk.ReasonRejected},
		{"line break in env", 0, func(r *sdk.ChangeRequest) {
			r.New = sdk.NewSecret([]byte("a\nb"))
		}, sdk.ReasonRejected},
		{"missing key", 3, func(r *sdk.ChangeRequest) {
			r.Target.Params[file.ParamKey] = "db.nope"
		}, sdk.ReasonAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := fixtures[tt.fixture]
			path := writeFixture(t, dir, "app", f)
			req := &sdk.ChangeRequest{
				Target:  target(path, f.key),
				Type:    sdk.PIN,
				Current: sdk.NewSecret([]byte(oldValue)),
				New:     sdk.NewSecret([]byte("9876")),
			}
			tt.req(req)
			_, err := newDriver(t, "9876").Change(context.Background(), req)
			if r := drivertest.Reason(t, err); r != tt.want {
				t.Errorf("Change: %v; want reason %q", err, tt.want)
			}
			if b, _ := os.ReadFile(path); string(b) != f.content {
				t.Errorf("file changed:\n%s", b)
			}
			assertNoStrayFiles(t, dir, 1)
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	env := writeFixture(t, dir, "app", fixtures[0])
	dup := filepath.Join(dir, "dup.env")
	if err := os.WriteFile(dup, []byte("K=1\nK=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	params := func(kv ...string) sdk.Target {
		p := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return sdk.Target{Params: p}
	}
	tests := []struct {
		name   string
		target sdk.Target
		value  string
		want   sdk.Reason
	}{
		{"holds", target(env, "DB_PASSWORD"), oldValue, ""},
		{"other value", target(env, "DB_PASSWORD"), "old pass ", sdk.ReasonAuthFailed},
		{"missing key", target(env, "NOPE"), oldValue, sdk.ReasonAuthFailed},
		{"missing file", target(filepath.Join(dir, "no.env"), "K"), oldValue,
			sdk.ReasonUnreachable},
		{"duplicate key", target(dup, "K"), "1", sdk.ReasonInvalidParams},
		{"directory", target(dir+"/", "K"), "1", sdk.ReasonInvalidParams},
		{"no path", params(file.ParamKey, "K"), "1", sdk.ReasonInvalidParams},
		{"relative path", params(file.ParamPath, "a.env", file.ParamKey, "K"), "1",
			sdk.ReasonInvalidParams},
		{"no key", params(file.ParamPath, env), "1", sdk.ReasonInvalidParams},
		{"unknown format", params(file.ParamPath, env, file.ParamKey, "K", file.ParamFormat, "x"),
			"1", sdk.ReasonInvalidParams},
		{"format by name", params(file.ParamPath, env, file.ParamKey, "DB_HOST",
			file.ParamFormat, "env"), "localhost", ""},
	}
	d := newDriver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := drivertest.Reason(t, check(d, tt.target, tt.value)); r != tt.want {
				t.Errorf("Check reason = %q, want %q", r, tt.want)
			}
		})
	}
}

func TestChangeKeepsModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	path := writeFixture(t, dir, "app", fixtures[1])
	if err := os.Chmod(path, 0o604); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 1, 2
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	tg := target(path, fixtures[1].key)
	if err := change(newDriver(t), tg, sdk.Password, oldValue, "n3w"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o604 {
		t.Errorf("mode = %v, want %v", info.Mode(), os.FileMode(0o604))
	}
	st := info.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestChangeThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	path := writeFixture(t, dir, "real", fixtures[2])
	link := filepath.Join(dir, "link.properties")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t)
	if err := change(d, target(link, fixtures[2].key), sdk.Password, oldValue, "n3w"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v", err)
	}
	if err := check(d, target(path, fixtures[2].key), "n3w"); err != nil {
		t.Errorf("the linked file does not hold the new value: %v", err)
	}
}

// TestConcurrentChanges changes many keys of one file at once; each change
// must keep the others.
func TestConcurrentChanges(t *testing.T) {
	const n = 16
	var content strings.Builder
	for i := range n {
		fmt.Fprintf(&content, "K%d=old%d\n", i, i)
	}
	path := filepath.Join(t.TempDir(), "many.env")
	if err := os.WriteFile(path, []byte(content.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tg := target(path, fmt.Sprintf("K%d", i))
			errs[i] = change(d, tg, sdk.Password, fmt.Sprintf("old%d", i), fmt.Sprintf("new %d", i))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("change K%d: %v", i, errs[i])
		}
		tg := target(path, fmt.Sprintf("K%d", i))
		if err := check(d, tg, fmt.Sprintf("new %d", i)); err != nil {
			t.Errorf("K%d: %v", i, err)
		}
	}
}

func TestChangeAfterDeadline(t *testing.T) {
	path := writeFixture(t, t.TempDir(), "app", fixtures[0])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newDriver(t).Change(ctx, &sdk.ChangeRequest{
		Target:  target(path, fixtures[0].key),
		Type:    sdk.Password,
		Current: sdk.NewSecret([]byte(oldValue)),
		New:     sdk.NewSecret([]byte("n3w")),
	})
	if r := drivertest.Reason(t, err); r != sdk.ReasonTimeout {
		t.Errorf("Change reason = %q, want %q", r, sdk.ReasonTimeout)
	}
}

func TestDescribe(t *testing.T) {
	desc, err := newDriver(t).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if desc.Name != file.Name || desc.Reconcile || len(desc.CredentialTypes) != 2 {
		t.Errorf("Describe = %+v", desc)
	}
}
