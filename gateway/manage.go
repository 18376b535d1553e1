package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// managementBodyCap is the most the management API reads of a request body;
// anything between Limits.MaxMessageBytes and it is answered with 413 after
// the signature was checked, anything beyond it at once.
const managementBodyCap = 1 << 20

// serveManagement is the @connections API: POST, GET and DELETE on
// /{stage}/@connections/{id}, with API Gateway's status codes and error types.
func (s *Server) serveManagement(w http.ResponseWriter, r *http.Request, id string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, managementBodyCap+1))
	if err != nil {
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body")
		return
	}
	if !s.authorizedManager(w, r, body) {
		return
	}
	if !validID(id) {
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Invalid connectionId: "+id)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if len(body) > s.limits.MaxMessageBytes {
			writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
			return
		}
		err = s.Post(r.Context(), id, body)
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

// authorizedManager keeps strangers out of the management API: with
// credentials configured a valid SigV4 signature is required; without, only
// loopback clients are served.
func (s *Server) authorizedManager(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if s.verifier != nil {
		if _, err := s.verifier.Verify(r, body); err != nil {
			s.log.Info("management API request refused", "remote", r.RemoteAddr, "err", err)
			writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
			return false
		}
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		s.log.Info("management API request from a non-loopback address refused (configure credentials to allow it)", "remote", r.RemoteAddr)
		writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
		return false
	}
	return true
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
	w.Header().Set("x-amzn-RequestId", newID())
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
