package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// BatchPath is Switchboard's own extension to the management API, not
// AWS's: POST /{stage}/@switchboard/connections with
//
//	{"connectionIds": ["…", …], "data": "…"}
//
// sends data as one text frame, built once, to every listed connection and
// answers 200 {"gone": ["…"], "failed": ["…"]}: the ids that are not
// connected, and the ids held by another node of a cluster that could not
// be reached (NATS down, the node did not answer in time: not known to be
// gone, perhaps not delivered; the caller may retry them). It is
// authorized exactly as @connections is (SigV4 with the configured
// credentials, or loopback only; never cross-origin). Out-of-process handlers use it to fan out
// without one HTTP request per recipient.
const BatchPath = "/@switchboard/connections"

// MaxBatchIDs bounds the connections of one batch request.
const MaxBatchIDs = 10000

type batchRequest struct {
	ConnectionIDs []string `json:"connectionIds"`
	Data          *string  `json:"data"`
}

type batchResponse struct {
	Gone   []string `json:"gone"`
	Failed []string `json:"failed"`
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r, "batch", s.verifier == nil) {
		return
	}
	if r.Method != http.MethodPost {
		writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Method "+r.Method+" is not allowed here")
		return
	}
	// Data may be escaped up to six bytes per byte in JSON; ids take ~20.
	limit := int64(6*s.limits.MaxMessageBytes + 24*MaxBatchIDs + 1024)
	if r.ContentLength > limit {
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
		return
	}
	if s.verifier != nil {
		if _, err := s.verifier.Verify(r, body); err != nil {
			s.log.Info("batch request refused", "remote", r.RemoteAddr, "err", err)
			writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
			return
		}
	}
	var req batchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Invalid batch request: "+err.Error())
		return
	}
	switch {
	case req.Data == nil:
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Invalid batch request: data is required")
		return
	case len(*req.Data) > s.limits.MaxMessageBytes:
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
		return
	case len(req.ConnectionIDs) > MaxBatchIDs:
		writeAWSError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid batch request: at most %d connectionIds", MaxBatchIDs))
		return
	}
	for _, id := range req.ConnectionIDs {
		if !validID(id) {
			writeAWSError(w, http.StatusBadRequest, "BadRequestException", "Invalid connectionId: "+id)
			return
		}
	}
	s.metrics.batches.Add(1)
	gone, failed := s.PostFrameResult(r.Context(), req.ConnectionIDs, wsproto.TextFrame([]byte(*req.Data)))
	s.metrics.batchGone.Add(uint64(len(gone)))
	if gone == nil {
		gone = []string{}
	}
	if failed == nil {
		failed = []string{}
	}
	writeJSON(w, http.StatusOK, batchResponse{Gone: gone, Failed: failed})
}
