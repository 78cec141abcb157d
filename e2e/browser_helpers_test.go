package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's Chromium, which scripts/test-deps installs.
const chromium = "/usr/bin/chromium"

// browser drives one headless Chromium through the console of a test
// server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts Chromium with a profile of its own. It trusts the
// server's certificate by its public key alone, so nothing else about TLS
// is relaxed, and it is kept from reaching any other host.
func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the console tests need Debian's chromium at %s: run ./scripts/test-deps as root", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", serverSPKI(t, e)),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: "https://" + e.srv.Addr()}
	// The first action starts the browser and binds it to the context it
	// runs with, so it runs with ctx itself and not one with a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+"/")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return b
}

// serverSPKI returns the base64 SHA-256 of the server certificate's public
// key, the form Chromium's SPKI list takes.
func serverSPKI(t *testing.T, e *env) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.srv.Dir, "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("server.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// do runs browser steps, failing the test on an error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// js evaluates a script in the page, awaiting a promise it returns, and
// decodes its JSON value into a T.
func js[T any](b *browser, script string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %q: %v", firstLineOf(script), err)
	}
	return v
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// waitJS waits until a script's value is true.
func (b *browser) waitJS(what, script string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if js[bool](b, "(() => { try { return !!("+script+"); } catch (e) { return false; } })()") {
			return
		}
		if time.Now().After(deadline) {
			b.shot("failure-" + strings.ReplaceAll(b.t.Name(), "/", "-"))
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text returns the text of the first element matching a CSS selector, or
// "" when there is none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return js[string](b, fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, quoteJS(sel)))
}

func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return js[bool](b, fmt.Sprintf(`document.querySelector(%s) !== null`, quoteJS(sel)))
}

// visible reports whether an element is rendered, not hidden.
func (b *browser) visible(sel string) bool {
	b.t.Helper()
	return js[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s);
		return !!el && el.getClientRects().length > 0; })()`, quoteJS(sel)))
}

// click waits for an element to be shown and enabled, then clicks it. Finding
// and clicking happen in one evaluation, so a table the page renders again
// in between cannot leave the click on a node that is gone.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.waitJS("clicking "+sel, fmt.Sprintf(`(() => { const el = document.querySelector(%s);
		if (!el || el.disabled || el.getClientRects().length === 0) return false;
		el.click(); return true; })()`, quoteJS(sel)))
}

func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.do("typing into "+sel, chromedp.SendKeys(sel, text, chromedp.NodeVisible))
}

// selectValue picks an option of a select and tells the page it changed.
func (b *browser) selectValue(sel, value string) {
	b.t.Helper()
	js[bool](b, fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s;
		s.dispatchEvent(new Event('change')); return true; })()`, quoteJS(sel), quoteJS(value)))
}

// setInput sets a text field's value and tells the page it changed.
func (b *browser) setInput(sel, value string) {
	b.t.Helper()
	js[bool](b, fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s;
		s.dispatchEvent(new Event('input')); return true; })()`, quoteJS(sel), quoteJS(value)))
}

// rowPaths lists the account paths of the accounts table, in order.
func (b *browser) rowPaths(table string) []string {
	b.t.Helper()
	return js[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%s)].map((r) => r.dataset.path)`,
		quoteJS(table+" tbody tr[data-path]")))
}

// menu opens the actions menu of a row and returns its items.
func (b *browser) menu(path string) []string {
	b.t.Helper()
	b.click(fmt.Sprintf(`button[data-actions=%s]`, quoteJS(path)))
	b.waitJS("the actions menu", `document.querySelector('#menu')`)
	return js[[]string](b, `[...document.querySelectorAll('#menu button')].map((x) => x.textContent)`)
}

// choose clicks the item of the open menu with that label.
func (b *browser) choose(label string) {
	b.t.Helper()
	ok := js[bool](b, fmt.Sprintf(`(() => { const it = [...document.querySelectorAll('#menu button')]
		.find((x) => x.textContent === %s); if (it) it.click(); return !!it; })()`, quoteJS(label)))
	if !ok {
		b.t.Fatalf("the menu has no %q", label)
	}
}

// openReset opens the Reset Credentials dialog of an account from its
// actions menu.
func (b *browser) openReset(path string) {
	b.t.Helper()
	b.menu(path)
	b.choose("Reset Credentials")
	b.waitJS("the Reset Credentials dialog", `document.querySelector('#reset-dialog')`)
}

// fetchStatus calls the API from the page, with the session cookie, and
// returns the HTTP status and the error code of the answer.
func (b *browser) fetchStatus(method, path, body string, headers map[string]string) (int, string) {
	b.t.Helper()
	h, _ := json.Marshal(headers)
	type answer struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	a := js[answer](b, fmt.Sprintf(`(async () => {
		const opts = { method: %s, headers: Object.assign({ 'Content-Type': 'application/json' }, %s) };
		if (%s !== '') opts.body = %s;
		const r = await fetch(%s, opts);
		let code = '';
		try { code = (await r.json()).code || ''; } catch (e) {}
		return { status: r.status, code };
	})()`, quoteJS(method), h, quoteJS(body), quoteJS(body), quoteJS(path)))
	return a.Status, a.Code
}

// shot saves a screenshot of the page under the artifacts folder.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := artifactsDir(b.t)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("saving screenshot %s: %v", name, err)
	}
}

// artifactsDir is where the console tests leave their screenshots:
// $PASSMAN_ARTIFACTS, or artifacts/console at the repository's root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PASSMAN_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts", "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func quoteJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
