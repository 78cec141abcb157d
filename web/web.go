// Package web serves PassMan's web console: a page and its script and
// styles, embedded in the binary, so the server needs no other process and
// the browser fetches nothing from anywhere else. The console does all its
// work through the JSON API under /v1, with the session cookie that
// POST /v1/session sets, so it can do nothing the API would refuse.
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections from this origin only and no inline script or
// style, and forbids framing.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

//go:embed static
var static embed.FS

// csp is the console's Content-Security-Policy.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the console: the page at /, its files under /assets/.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	assets := http.FileServerFS(files)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if path.Ext(name) == ".html" {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		assets.ServeHTTP(w, r2)
	})
	mux.HandleFunc("/", http.NotFound)
	return headers(mux)
}

// headers adds the console's security headers to every response.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// The assets change with the binary; asking the browser to
		// revalidate keeps an upgraded server from serving an old script.
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
