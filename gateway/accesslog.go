package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"time"
)

// AccessLog says which connection and message lines the gateway writes
// (docs/logging.md). The zero value writes one line per connect, per routed
// message and per disconnect, all at Info.
type AccessLog struct {
	// Off turns the connect, message and disconnect lines off. Failures
	// (an integration that failed or timed out) are still logged at Warn.
	Off bool
	// MessageLevel is the level of the routed-message lines: Info by
	// default (the zero value); slog.LevelDebug keeps them out of an
	// Info log (what `switchboard serve --access-log connections` does).
	// A message whose integration failed or timed out is logged at Warn
	// whatever this says.
	MessageLevel slog.Level
}

// Access-log levels of the connect and disconnect lines.
const (
	DefaultConnectLogLevel    = slog.LevelInfo
	DefaultDisconnectLogLevel = slog.LevelInfo
)

// Describer is implemented by an Integration that can say what it is, for
// the log lines and the metrics: kind ("lambda", "http", "go", ...) and
// name (a function's name, a URL without its query).
type Describer interface {
	Describe() (kind, name string)
}

// Describe names an in-process handler "go" and the function's Go name.
func (f HandlerFunc) Describe() (kind, name string) {
	return "go", funcName(f)
}

var _ Describer = HandlerFunc(nil)

// funcName is a Go function's name without its package path:
// "chat.(*Service).Message".
func funcName(f any) string {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Func || v.IsNil() {
		return ""
	}
	fn := runtime.FuncForPC(v.Pointer())
	if fn == nil {
		return ""
	}
	name := fn.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, "-fm")
}

// describe returns an integration's kind and name.
func describe(in Integration) (kind, name string) {
	if d, ok := in.(Describer); ok {
		return d.Describe()
	}
	if in == nil {
		return "none", ""
	}
	return "custom", reflect.TypeOf(in).String()
}

// Outcomes of a route's invocation, as the message lines and the metrics
// name them.
const (
	outcomeOK      = "ok"
	outcomeError   = "error"
	outcomeTimeout = "timeout"
)

// logMessage writes the routed-message line. A failed or timed-out
// invocation is logged at Warn with its error, whatever MessageLevel says.
// Nothing is formatted when the line's level is off.
func (s *Server) logMessage(c *conn, rs *routeStats, reqID string, d time.Duration, outcome string, status int, err error) {
	level := s.opts.AccessLog.MessageLevel
	if outcome != outcomeOK {
		level = slog.LevelWarn
	} else if s.opts.AccessLog.Off {
		return
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("route", rs.route),
		slog.String("connectionId", c.meta.id),
		slog.String("requestId", reqID),
		slog.String("integration", rs.kind),
		slog.String("function", rs.name),
		slog.Duration("duration", d),
		slog.String("outcome", outcome))
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	s.log.LogAttrs(context.Background(), level, "message", attrs...)
}

// connectRecord is what the connect line says about one handshake.
type connectRecord struct {
	start      time.Time
	sourceIP   string
	path       string // the request's path and redacted query
	connID     string // "" when refused before an id was given
	authorizer time.Duration
	authRan    bool
	connect    time.Duration
	connectRan bool
	reason     string // why it was refused, when known
	invocation uint64 // the $connect invocation kept for the inspector
}

// handshakeWriter records the status a refused handshake is answered with.
type handshakeWriter struct {
	http.ResponseWriter
	status int
}

func (w *handshakeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *handshakeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *handshakeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// beginHandshake starts the record of a handshake and wraps w to catch a
// refusal's status.
func (s *Server) beginHandshake(w http.ResponseWriter, r *http.Request, now time.Time) (*handshakeWriter, *connectRecord) {
	return &handshakeWriter{ResponseWriter: w}, &connectRecord{start: now, sourceIP: remoteIP(r), path: redactedRequestURI(r.URL)}
}

// endHandshake counts a refused handshake by status and writes the connect
// line.
func (s *Server) endHandshake(w *handshakeWriter, rec *connectRecord, upgraded bool) {
	status := http.StatusSwitchingProtocols
	if !upgraded {
		status = w.status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		s.obs.refused(status)
		if s.insp.watching.Load() {
			s.inspectConnect(rec, status) // an accepted one was recorded by completeUpgrade
		}
	}
	if s.opts.AccessLog.Off || !s.log.Enabled(context.Background(), DefaultConnectLogLevel) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, slog.Int("status", status))
	if rec.connID != "" {
		attrs = append(attrs, slog.String("connectionId", rec.connID))
	}
	attrs = append(attrs, slog.String("sourceIp", rec.sourceIP), slog.String("path", rec.path))
	if rec.authRan {
		attrs = append(attrs, slog.Duration("authorizer", rec.authorizer))
	}
	if rec.connectRan {
		attrs = append(attrs, slog.Duration("connectRoute", rec.connect))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(rec.start)))
	if rec.reason != "" {
		attrs = append(attrs, slog.String("reason", rec.reason))
	}
	s.log.LogAttrs(context.Background(), DefaultConnectLogLevel, "connect", attrs...)
}

// logDisconnect writes the disconnect line.
func (s *Server) logDisconnect(c *conn, code int, reason string) {
	if s.opts.AccessLog.Off || !s.log.Enabled(context.Background(), DefaultDisconnectLogLevel) {
		return
	}
	connected := time.Since(time.UnixMilli(c.meta.connectedAt)).Round(time.Millisecond)
	s.log.LogAttrs(context.Background(), DefaultDisconnectLogLevel, "disconnect",
		slog.String("connectionId", c.meta.id),
		slog.Int("code", code),
		slog.String("reason", reason),
		slog.Duration("connected", connected))
}

// redactedRequestURI is u's path and query with the values of parameters
// that may carry credentials replaced by REDACTED.
func redactedRequestURI(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + RedactQuery(u.RawQuery)
}

// Redacted replaces a secret's value in logs.
const Redacted = "REDACTED"

// RedactQuery returns a raw query string with the values of parameters
// whose name suggests a credential (token, authorization, password,
// secret, signature, credential, session, key, X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token, ...) replaced by REDACTED. The
// order and the other parameters are kept as they were. A parameter that
// cannot be parsed is redacted whole.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			b.WriteString(Redacted)
			continue
		}
		b.WriteString(k)
		if hasValue {
			b.WriteByte('=')
			if SecretName(name) {
				b.WriteString(Redacted)
			} else {
				b.WriteString(part[len(k)+1:])
			}
		}
	}
	return b.String()
}

// secretWords are the parts of a parameter or header name that mark its
// value as a credential.
var secretWords = []string{"token", "auth", "password", "passwd", "secret", "signature", "credential", "session", "apikey", "api_key", "api-key", "cookie", "jwt", "bearer"}

// SecretName reports whether a query parameter or header named name may
// carry a credential, and must not be logged: its lower-cased name contains
// one of token, auth (authorization), password, secret, signature,
// credential, session, api key, cookie, jwt, or it is key, sig or code.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "sig", "code", "x-api-key":
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
