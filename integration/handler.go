package integration

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/gateway"
)

// Handler serves a Lambda-style Go handler as an HTTP integration endpoint:
// the other half of HTTP. An error from f is answered with 500 and
// {"errorMessage": ...}, which the gateway treats as a failed invocation.
func Handler(f gateway.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.APIGatewayWebsocketProxyRequest
		if !decode(w, r, &ev) {
			return
		}
		resp, err := f(r.Context(), ev)
		answer(w, resp, err)
	})
}

// AuthorizerHandler serves a Go REQUEST authorizer as an HTTP endpoint.
func AuthorizerHandler(f gateway.AuthorizerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		if !decode(w, r, &req) {
			return
		}
		resp, err := f(r.Context(), req)
		answer(w, resp, err)
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResultBytes))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, FunctionError{Message: "invalid event: " + err.Error(), Type: "InvalidEvent"})
		return false
	}
	return true
}

func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, FunctionError{Message: err.Error(), Type: "HandlerError"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
