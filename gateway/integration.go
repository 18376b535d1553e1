package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// Integration is a route's backend: it receives the event API Gateway would
// send to a Lambda proxy integration and returns the proxy response.
// Implementations: HandlerFunc (in-process), and the HTTP and Lambda
// runtime integrations of package integration.
type Integration interface {
	Invoke(ctx context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
}

// Authorizer is a REQUEST authorizer. Returning ErrUnauthorized (or any error
// whose text is "Unauthorized") refuses the connection with 401; a policy
// that does not allow execute-api:Invoke on the methodArn refuses it with 403;
// any other error refuses it with 500.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error)
}

// HandlerFunc is an in-process Lambda-style handler, the signature a Go
// Lambda function for a WebSocket route has.
type HandlerFunc func(ctx context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Invoke calls f.
func (f HandlerFunc) Invoke(ctx context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return f(ctx, event)
}

// AuthorizerFunc is an in-process REQUEST authorizer with the signature a Go
// Lambda authorizer has. It receives the request exactly as such a Lambda
// would decode it.
type AuthorizerFunc func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Authorize converts req to the Lambda authorizer type and calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, req AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return f(ctx, req.LambdaRequest())
}

var (
	_ Integration = HandlerFunc(nil)
	_ Authorizer  = AuthorizerFunc(nil)
)

// AuthorizerRequest is the input of a WebSocket REQUEST authorizer, shaped
// as API Gateway sends it (its JSON is what HTTP and Lambda authorizers get).
type AuthorizerRequest struct {
	Type                            string                                        `json:"type"`
	MethodArn                       string                                        `json:"methodArn"`
	Headers                         map[string]string                             `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string                           `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string                             `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string                           `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string                             `json:"stageVariables,omitempty"`
	RequestContext                  events.APIGatewayWebsocketProxyRequestContext `json:"requestContext"`
}

// LambdaRequest converts r to the aws-lambda-go type a Go authorizer takes,
// through JSON as the Lambda runtime would, so fields line up the same way.
func (r AuthorizerRequest) LambdaRequest() events.APIGatewayCustomAuthorizerRequestTypeRequest {
	var out events.APIGatewayCustomAuthorizerRequestTypeRequest
	b, err := json.Marshal(r)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil { // cannot happen: both are plain data types
		panic(fmt.Sprintf("gateway: converting authorizer request: %v", err))
	}
	return out
}
