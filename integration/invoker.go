package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/logctx"
)

// Invoker sends a JSON payload to a function and returns its JSON result.
// A failure the function reports itself (a thrown error, a crash) is a
// *FunctionError; a failure to reach it is any other error.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// FunctionError is an error reported by the function, as Lambda reports
// them: {"errorMessage": ..., "errorType": ...}. Its text is the message
// alone, so that an authorizer's "Unauthorized" is recognised.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType,omitempty"`
}

func (e *FunctionError) Error() string { return e.Message }

// Route adapts an Invoker to a gateway route integration.
func Route(inv Invoker) gateway.Integration { return route{inv} }

// Authorizer adapts an Invoker to a gateway REQUEST authorizer.
func Authorizer(inv Invoker) gateway.Authorizer { return authorizer{inv} }

type route struct{ inv Invoker }

// describer is implemented by Invokers that name themselves (Lambda
// functions, HTTP endpoints) for the gateway's log lines and metrics.
type describer interface {
	Describe() (kind, name string)
}

// Describe implements gateway.Describer with the Invoker's own description.
func (r route) Describe() (kind, name string) {
	if d, ok := r.inv.(describer); ok {
		return d.Describe()
	}
	return "invoker", fmt.Sprintf("%T", r.inv)
}

var _ gateway.Describer = route{}

func (r route) Invoke(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("encoding event: %w", err)
	}
	// The function's invocation log line names the route and connection.
	ctx = logctx.With(ctx, slog.String("route", ev.RequestContext.RouteKey), slog.String("connectionId", ev.RequestContext.ConnectionID))
	ctx = logctx.WithRequestID(ctx, ev.RequestContext.RequestID)
	out, err := r.inv.Invoke(ctx, payload)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return DecodeProxyResponse(out)
}

// DecodeProxyResponse decodes a Lambda proxy response leniently, as API
// Gateway does: an empty or null result is an empty response.
func DecodeProxyResponse(b []byte) (events.APIGatewayProxyResponse, error) {
	var resp events.APIGatewayProxyResponse
	if len(trimSpace(b)) == 0 || string(trimSpace(b)) == "null" {
		return resp, nil
	}
	var raw struct {
		StatusCode        json.Number         `json:"statusCode"`
		Headers           map[string]any      `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return resp, fmt.Errorf("malformed proxy response: %w", err)
	}
	if raw.StatusCode != "" {
		n, err := raw.StatusCode.Int64()
		if err != nil {
			return resp, fmt.Errorf("malformed proxy response: statusCode %q", raw.StatusCode)
		}
		resp.StatusCode = int(n)
	}
	if len(raw.Headers) > 0 {
		resp.Headers = make(map[string]string, len(raw.Headers))
		for k, v := range raw.Headers {
			resp.Headers[k] = fmt.Sprint(v)
		}
	}
	resp.MultiValueHeaders = raw.MultiValueHeaders
	if raw.Body != nil {
		resp.Body = *raw.Body
	}
	resp.IsBase64Encoded = raw.IsBase64Encoded
	return resp, nil
}

type authorizer struct{ inv Invoker }

func (a authorizer) Authorize(ctx context.Context, req gateway.AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("encoding authorizer request: %w", err)
	}
	ctx = logctx.With(ctx, slog.String("route", "$connect (authorizer)"), slog.String("connectionId", req.RequestContext.ConnectionID))
	ctx = logctx.WithRequestID(ctx, req.RequestContext.RequestID)
	out, err := a.inv.Invoke(ctx, payload)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return DecodeAuthorizerResponse(out)
}

// DecodeAuthorizerResponse decodes an authorizer's answer, accepting what
// API Gateway accepts: Action and Resource as a string or a list.
func DecodeAuthorizerResponse(b []byte) (events.APIGatewayCustomAuthorizerResponse, error) {
	var raw struct {
		PrincipalID    string `json:"principalId"`
		PolicyDocument struct {
			Version   string
			Statement []struct {
				Action   stringOrList
				Effect   string
				Resource stringOrList
			}
		} `json:"policyDocument"`
		Context            map[string]any `json:"context"`
		UsageIdentifierKey string         `json:"usageIdentifierKey"`
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(b, &raw); err != nil {
		return resp, fmt.Errorf("malformed authorizer response: %w", err)
	}
	resp.PrincipalID = raw.PrincipalID
	resp.PolicyDocument.Version = raw.PolicyDocument.Version
	for _, st := range raw.PolicyDocument.Statement {
		resp.PolicyDocument.Statement = append(resp.PolicyDocument.Statement, events.IAMPolicyStatement{
			Action: st.Action, Effect: st.Effect, Resource: st.Resource,
		})
	}
	resp.Context = raw.Context
	resp.UsageIdentifierKey = raw.UsageIdentifierKey
	return resp, nil
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
