package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/web"
	"github.com/switchboard-ws/switchboard/internal/localonly"
	"github.com/switchboard-ws/switchboard/internal/originguard"
)

// DevTokenPath is the dev stack's endpoint that hands the browser UI a dev
// token: POST {"userId", "username", "tenantId"} as JSON, answered with
// {"token", "url", ...}. It exists only in the dev stack (the UI's sign-in),
// never in `switchboard serve`.
const DevTokenPath = "/dev-token"

// DevTokenTTL is the lifetime of the tokens DevTokenPath hands out. The UI
// asks for a new one before every (re)connect.
const DevTokenTTL = 24 * time.Hour

const (
	maxDevIDLen       = 64
	maxDevUsernameLen = 64 // characters
	maxDevTokenBody   = 4 << 10
)

var (
	devUserIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
	devTenantIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// pages serves what is outside /dev: POST /dev-token and the UI (or Extra),
// or with NoUI only Extra or a short text page.
func (s *Stack) pages() http.Handler {
	if s.opts.NoUI {
		if s.opts.Extra != nil {
			return s.opts.Extra
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintf(w, "Switchboard dev: connect a WebSocket client to ws://%s/%s?token=TOKEN\n", r.Host, Stage)
		})
	}
	ui := s.opts.Extra
	if ui == nil {
		ui = web.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == DevTokenPath {
			s.serveDevToken(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// devTokenRequest is the body of POST /dev-token.
type devTokenRequest struct {
	UserID   string `json:"userId"`
	Username string `json:"username"`
	TenantID string `json:"tenantId"`
}

// DevTokenResponse is the answer of POST /dev-token.
type DevTokenResponse struct {
	Token     string    `json:"token"`
	URL       string    `json:"url"` // the WebSocket URL (without the token)
	UserID    string    `json:"userId"`
	Username  string    `json:"username"`
	TenantID  string    `json:"tenantId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type devTokenError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	web.SetSecurityHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func devError(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, devTokenError{Error: msg, Code: code, Field: field})
}

// serveDevToken mints a dev token for whoever asks: it is the sign-in of
// the local dev UI, with no password. So that no other site and no other
// machine can use it to act as a user, it answers only
//   - loopback clients without proxy headers,
//   - with a Host that names this machine (localhost, a loopback address or
//     the address the connection reached), against DNS rebinding,
//   - and same-origin requests: an Origin, if any, must match the Host, and a
//     JSON body (Content-Type: application/json) cannot be sent cross-site
//     without a CORS preflight, which is never granted.
func (s *Stack) serveDevToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		devError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "", "use POST with a JSON body {userId, username, tenantId}")
		return
	}
	if msg := refuseDevTokenClient(r); msg != "" {
		devError(w, http.StatusForbidden, "FORBIDDEN", "", msg)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		devError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "", "the body must be JSON (Content-Type: application/json)")
		return
	}
	var in devTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDevTokenBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			devError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", "", fmt.Sprintf("the body must be at most %d bytes", maxDevTokenBody))
			return
		}
		devError(w, http.StatusBadRequest, "INVALID_JSON", "", "the body must be a JSON object {userId, username, tenantId}: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		devError(w, http.StatusBadRequest, "INVALID_JSON", "", "the body must hold exactly one JSON object")
		return
	}
	id, field, msg := validateDevIdentity(in)
	if msg != "" {
		devError(w, http.StatusBadRequest, "INVALID_REQUEST", field, msg)
		return
	}
	tok, err := s.Token(id.UserID, id.Username, id.TenantID, DevTokenTTL)
	if err != nil {
		s.log.Error("minting a dev token", "err", err)
		devError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "", "could not mint a token")
		return
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	writeJSON(w, http.StatusOK, DevTokenResponse{
		Token: tok, URL: scheme + "://" + r.Host + "/" + Stage,
		UserID: id.UserID, Username: id.Username, TenantID: id.TenantID,
		ExpiresAt: s.opts.Now().Add(DevTokenTTL).UTC().Truncate(time.Second),
	})
}

// validateDevIdentity checks and normalizes the request: userId is
// required; username defaults to userId and tenantId to "default". It
// returns the field at fault and a message for people when invalid.
func validateDevIdentity(in devTokenRequest) (devTokenRequest, string, string) {
	out := devTokenRequest{
		UserID:   strings.TrimSpace(in.UserID),
		Username: strings.TrimSpace(in.Username),
		TenantID: strings.TrimSpace(in.TenantID),
	}
	switch {
	case out.UserID == "":
		return out, "userId", "userId is required"
	case len(out.UserID) > maxDevIDLen:
		return out, "userId", fmt.Sprintf("userId must be at most %d characters", maxDevIDLen)
	case !devUserIDRe.MatchString(out.UserID):
		return out, "userId", "userId may use letters, digits and . _ @ - (and must start with a letter or digit)"
	}
	if out.Username == "" {
		out.Username = out.UserID
	}
	// The rule of every name (protocol.CheckText), as for the usernames
	// of any token.
	if err := protocol.CheckText(out.Username); err != nil {
		return out, "username", "username " + err.Error()
	}
	if utf8.RuneCountInString(out.Username) > maxDevUsernameLen {
		return out, "username", fmt.Sprintf("username must be at most %d characters", maxDevUsernameLen)
	}
	if out.TenantID == "" {
		out.TenantID = "default"
	}
	switch {
	case len(out.TenantID) > maxDevIDLen:
		return out, "tenantId", fmt.Sprintf("tenantId must be at most %d characters", maxDevIDLen)
	case !devTenantIDRe.MatchString(out.TenantID):
		return out, "tenantId", "tenantId may use letters, digits and . _ - (and must start with a letter or digit)"
	}
	return out, "", ""
}

// devTokenGuard allows the machine's own names only: loopback names and
// addresses, and the address the connection reached.
var devTokenGuard = originguard.MustNew(originguard.Config{})

// refuseDevTokenClient returns why the request may not have a token, or "".
// The rules are those of the gateway's control endpoints (packages
// localonly and originguard).
func refuseDevTokenClient(r *http.Request) string {
	switch why, _ := localonly.Check(r); why {
	case "":
	case localonly.ThroughProxy:
		return "dev tokens are not handed out through a proxy; use `switchboard token` instead"
	default:
		return "dev tokens are only handed out to clients on this machine; use `switchboard token` instead"
	}
	if devTokenGuard.CheckHost(r) != "" {
		return "the page's host name does not name this machine: open the UI at http://localhost or http://127.0.0.1"
	}
	return devTokenGuard.CheckOrigin(r)
}
