// Package web is the browser UI of `switchboard dev`: a chat client made of
// static files (index.html, app.js, client.js, style.css, favicon.svg),
// embedded in the binary and served by Handler. There is no build step and
// nothing is loaded from another origin: the files are plain ES modules and
// CSS, and the page talks to the chat backend over the WebSocket protocol
// of docs/protocol.md, with a token from the dev stack's POST /dev-token.
//
// client.js is also usable on its own: an ES module with no dependencies
// (SwitchboardClient: requests matched by requestId, typed helpers,
// broadcasts as events, heartbeats, reconnect with backoff and full jitter,
// and resume without duplicates, like the Go SDK in package client).
//
// Every page is served with a Content-Security-Policy that allows scripts,
// styles and images from the page's own origin only (no inline script) and
// WebSocket connections, and with X-Content-Type-Options: nosniff.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"
)

//go:embed index.html app.js client.js style.css favicon.svg
var files embed.FS

// CSP is the Content-Security-Policy of every response of Handler.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	contentType string
	body        []byte
	etag        string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Paths lists the URL paths Handler serves ("/" is index.html).
func Paths() []string {
	return []string{"/", "/index.html", "/app.js", "/client.js", "/style.css", "/favicon.svg"}
}

var assets = func() map[string]asset {
	m := map[string]asset{}
	for _, p := range Paths() {
		name := path.Base(p)
		if p == "/" {
			name = "index.html"
		}
		b, err := files.ReadFile(name)
		if err != nil {
			panic("web: embedded file missing: " + name)
		}
		sum := sha256.Sum256(b)
		m[p] = asset{
			contentType: contentTypes[path.Ext(name)],
			body:        b,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
	}
	return m
}()

// SetSecurityHeaders sets the headers every response of the UI carries:
// the CSP, nosniff, no framing and no referrer.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// Handler serves the UI: GET or HEAD of one of Paths; 404 for any other
// path, 405 for other methods. Responses carry an ETag and
// Cache-Control: no-cache, so a browser revalidates and a new binary's
// files are picked up at once.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		a, ok := assets[r.URL.Path]
		if !ok {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		// ServeContent answers If-None-Match (304), Range and HEAD.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
