package inspector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// DefaultAnnotateTimeout bounds the application's annotations of one
// listing of the connections (gateway.Options.Annotate).
const DefaultAnnotateTimeout = 2 * time.Second

// api is the inspector's JSON API.
type api struct {
	gw *gateway.Server
	// server names this process's stream (its `event: hello`): a page
	// that reconnects to a restarted server, whose events are numbered
	// from 1 again, knows to forget the numbers it saw.
	server string
}

func newServerID() string {
	return fmt.Sprintf("%x-%x", time.Now().UnixNano(), rand.Uint64())
}

// connectionsResponse is GET api/connections.
type connectionsResponse struct {
	Connections []gateway.InspectConn `json:"connections"`
	Total       int                   `json:"total"` // open on this node; Connections lists the newest
}

func (a *api) connections(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), DefaultAnnotateTimeout)
	defer cancel()
	list, total := a.gw.InspectConnections(ctx)
	writeJSON(w, http.StatusOK, connectionsResponse{Connections: list, Total: total})
}

// post sends the request's body to a connection as one text message:
// gateway.Server.Post, what the management API's POST runs. The body must
// come with a Content-Type that no web form can send (formContentType):
// a request another page could make without asking the server first (a
// CORS preflight, which the inspector never answers) is refused, even
// from an origin management.allowedOrigins lets through, or from a
// browser that sends neither Origin nor Sec-Fetch-Site.
func (a *api) post(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); formContentType(ct) {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send the message as application/json or application/octet-stream (a web form cannot)", ct))
		return
	}
	limit := a.gw.Limits().MaxMessageBytes
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the message is larger than %d bytes", limit))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "could not read the message: "+err.Error())
		return
	case len(body) == 0:
		writeError(w, http.StatusBadRequest, "the message is empty")
		return
	}
	a.answer(w, a.gw.Post(r.Context(), r.PathValue("id"), body), http.StatusOK)
}

// formContentType reports whether a request with Content-Type ct is one a
// web page of another origin can send without a CORS preflight: none, one
// that does not parse, or the three a form can send.
func formContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// disconnect closes a connection (1000): gateway.Server.Disconnect, what
// the management API's DELETE runs.
func (a *api) disconnect(w http.ResponseWriter, r *http.Request) {
	a.answer(w, a.gw.Disconnect(r.Context(), r.PathValue("id")), http.StatusNoContent)
}

// answer maps the gateway's errors as the management API does.
func (a *api) answer(w http.ResponseWriter, err error, okStatus int) {
	switch {
	case err == nil:
		w.WriteHeader(okStatus)
	case errors.Is(err, gateway.ErrGone):
		writeError(w, http.StatusGone, "the connection is gone")
	case errors.Is(err, gateway.ErrPayloadTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "the message is too large")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// invocation is GET api/invocations/{id}: the event and response JSON.
func (a *api) invocation(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the invocation id is a number")
		return
	}
	inv, ok := a.gw.Invocation(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("invocation %d is no longer kept (the last %d are)", id, gateway.DefaultInspectInvocations))
		return
	}
	writeJSON(w, http.StatusOK, inv)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}
