package inspector

import (
	"bytes"
	"embed"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// Path is where the inspector is served (the page; its API is under
// Path+"api/").
const Path = "/_inspector/"

// CSP is the Content-Security-Policy of every response: scripts, styles
// and requests to the page's own origin only, no inline script or style,
// no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed web/index.html web/app.js web/style.css web/favicon.svg
var files embed.FS

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Mount returns a handler that serves the inspector of gw under Path,
// guarded by gw.Protect, and everything else with next.
func Mount(gw *gateway.Server, next http.Handler) http.Handler {
	h := gw.Protect("inspector", New(gw))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(Path, "/") || strings.HasPrefix(r.URL.Path, Path) {
			setSecurityHeaders(w.Header()) // on the guard's refusals too
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// New returns the inspector's handler for gw, without the guard (Mount
// adds it): the page under Path and its API.
func New(gw *gateway.Server) http.Handler {
	a := &api{gw: gw, server: newServerID()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"api/connections", a.connections)
	mux.HandleFunc("POST "+Path+"api/connections/{id}/messages", a.post)
	mux.HandleFunc("DELETE "+Path+"api/connections/{id}", a.disconnect)
	mux.HandleFunc("GET "+Path+"api/invocations/{id}", a.invocation)
	mux.HandleFunc("GET "+Path+"api/events", a.events)
	mux.HandleFunc("GET "+Path+"{file...}", page)
	mux.HandleFunc("GET "+strings.TrimSuffix(Path, "/"), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Path, http.StatusMovedPermanently)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		mux.ServeHTTP(w, r)
	})
}

// page serves the embedded files.
func page(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	b, err := files.ReadFile("web/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentTypes[path.Ext(name)])
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
