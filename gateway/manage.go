package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// serveManagement is the @connections API: POST, GET and DELETE on
// /{stage}/@connections/{id}, with API Gateway's status codes and error types.
func (s *Server) serveManagement(w http.ResponseWriter, r *http.Request, id string) {
	// Strangers and web pages are turned away before anything of the
	// request body is read: without credentials, all but loopback clients
	// (guard.go).
	if !s.admit(w, r, "management API", s.verifier == nil) {
		return
	}
	// A body over the message limit is refused before it is read when its
	// length is declared, and as soon as the limit is passed otherwise.
	if r.ContentLength > int64(s.limits.MaxMessageBytes) {
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
		return
	}
	body, frame, err := readManagementBody(r, s.limits.MaxMessageBytes)
	if err != nil {
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body")
		return
	}
	if len(body) > s.limits.MaxMessageBytes {
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
		return
	}
	if s.verifier != nil {
		if _, err := s.verifier.Verify(r, body); err != nil {
			s.log.Info("management API request refused", "remote", r.RemoteAddr, "err", err)
			writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
			return
		}
	}
	if !validID(id) {
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Invalid connectionId: "+id)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.metrics.mgmtPosts.Add(1)
		err = s.post(r.Context(), id, body, frame)
		if errors.Is(err, ErrGone) {
			s.metrics.mgmtGone.Add(1)
		}
		if err == nil {
			w.WriteHeader(http.StatusOK)
		}
	case http.MethodGet:
		var info ConnectionInfo
		info, err = s.Info(r.Context(), id)
		if err == nil {
			writeJSON(w, http.StatusOK, connectionInfoJSON(info))
		}
	case http.MethodDelete:
		err = s.Disconnect(r.Context(), id)
		if err == nil {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Method "+r.Method+" is not allowed on @connections")
		return
	}
	switch {
	case errors.Is(err, ErrGone):
		writeAWSError(w, http.StatusGone, "GoneException", "")
	case errors.Is(err, ErrPayloadTooLarge):
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
	case err != nil:
		writeAWSError(w, http.StatusInternalServerError, "InternalServerErrorException", err.Error())
	}
}

type connectionInfoResponse struct {
	ConnectedAt string `json:"connectedAt"`
	Identity    struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent,omitempty"`
	} `json:"identity"`
	LastActiveAt string `json:"lastActiveAt"`
}

func connectionInfoJSON(info ConnectionInfo) connectionInfoResponse {
	const iso8601 = "2006-01-02T15:04:05.000Z"
	var out connectionInfoResponse
	out.ConnectedAt = info.ConnectedAt.UTC().Format(iso8601)
	out.LastActiveAt = info.LastActiveAt.UTC().Format(iso8601)
	out.Identity.SourceIP = info.SourceIP
	out.Identity.UserAgent = info.UserAgent
	return out
}

// writeAWSError answers as AWS services do: the error type in
// x-amzn-ErrorType, which SDKs map to typed errors, and a JSON message.
func writeAWSError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("x-amzn-ErrorType", errorType)
	w.Header().Set("x-amzn-RequestId", newRequestID())
	if message == "" {
		writeJSON(w, status, map[string]any{"message": nil})
		return
	}
	writeJSON(w, status, map[string]string{"message": message})
}

// writeJSONMessage answers a refused handshake with {"message": ...}.
func writeJSONMessage(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
