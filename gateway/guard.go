package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-ws/switchboard/internal/localonly"
	"github.com/switchboard-ws/switchboard/internal/originguard"
)

// guard keeps web pages and strangers away from the control endpoints:
// the management API, the batch extension, /metrics, and whatever
// Server.Protect wraps (the inspector).
type guard struct {
	rules *originguard.Guard
	logs  originguard.LogLimiter
}

// buildGuard checks AllowedHosts and AllowedOrigins and builds the guard.
// DomainName is served too; ExecuteAPIHost is added at check time, as the
// API id and region take their defaults after validate.
func (o *Options) buildGuard() error {
	for i, h := range o.AllowedHosts {
		if _, err := originguard.New(originguard.Config{Hosts: []string{h}}); err != nil {
			return fmt.Errorf("gateway: Options.AllowedHosts[%d]: %w", i, err)
		}
	}
	for i, origin := range o.AllowedOrigins {
		if _, err := originguard.New(originguard.Config{Origins: []string{origin}}); err != nil {
			return fmt.Errorf("gateway: Options.AllowedOrigins[%d]: %w", i, err)
		}
	}
	hosts := append([]string(nil), o.AllowedHosts...)
	if _, err := originguard.New(originguard.Config{Hosts: []string{o.DomainName}}); err == nil {
		hosts = append(hosts, o.DomainName) // a DomainName that is no host name never matches a Host
	}
	rules, err := originguard.New(originguard.Config{Hosts: hosts, Origins: o.AllowedOrigins})
	if err != nil {
		return fmt.Errorf("gateway: Options.AllowedHosts or AllowedOrigins: %w", err)
	}
	o.guard = &guard{rules: rules}
	return nil
}

// admit applies the guard to a request for what ("management API",
// "metrics"): with local (no credentials, or /metrics), the loopback-only
// rule and the Host check, then always the origin check. A refused request
// is answered 403 with {"message": why} (and x-amzn-ErrorType
// ForbiddenException, as AWS answers) and logged, at most a few lines a
// second; admit reports whether the request may go on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, what string, local bool) bool {
	g := s.opts.guard
	why, attrs := "", []any(nil)
	if local {
		if why, attrs = localonly.Check(r); why != "" {
			if why == localonly.ThroughProxy {
				why = "requests through a proxy are refused without credentials"
			} else {
				why = "only clients on this machine are served without credentials"
			}
		} else if why = g.rules.CheckHost(r); why != "" {
			if strings.EqualFold(originguard.HostName(r.Host), s.ExecuteAPIHost()) {
				why = ""
			} else {
				why += ": allow a name with AllowedHosts (YAML management.allowedHosts)"
			}
		}
	}
	if why == "" {
		if why = g.rules.CheckOrigin(r); why != "" {
			why += ": allow an origin with AllowedOrigins (YAML management.allowedOrigins)"
		}
	}
	if why == "" {
		return true
	}
	if attrs == nil {
		attrs = []any{"remote", r.RemoteAddr}
	}
	g.logs.Info(s.log, what+" request refused", append(attrs, "reason", why,
		"host", r.Host, "origin", r.Header.Get("Origin"), "path", r.URL.Path)...)
	writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden: "+why)
	return false
}

// Protect serves next only to the requests the control endpoints accept
// without credentials: loopback clients not behind a proxy, with a Host
// that names this gateway, from no other origin. Others get 403 with
// {"message": why}. /metrics is served through it; so can a page such as
// an inspector be.
func (s *Server) Protect(what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admit(w, r, what, true) {
			next.ServeHTTP(w, r)
		}
	})
}
