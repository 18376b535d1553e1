// Package logctx carries log attributes in a context.Context: a caller of
// lambda.Function.Invoke (the gateway, through integration.Route, knows the
// route and the connection id) attaches them, and the function's
// per-invocation log line includes them. It is a package of its own, with no
// dependencies, so that packages that integration/lambda imports (gateway,
// integration) can use it too.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns a copy of ctx carrying attrs after those ctx already carries.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	if len(attrs) == 0 {
		return ctx
	}
	prev := Attrs(ctx)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	return context.WithValue(ctx, key{}, append(append(all, prev...), attrs...))
}

// Attrs returns the attributes ctx carries (nil if none). The caller must
// not modify them.
func Attrs(ctx context.Context) []slog.Attr {
	a, _ := ctx.Value(key{}).([]slog.Attr)
	return a
}

type requestIDKey struct{}

// WithRequestID returns a copy of ctx carrying the request id of the event
// being handled (API Gateway's requestContext.requestId): a Lambda function
// invoked with it takes it as its invocation's request id
// (Lambda-Runtime-Aws-Request-Id), so that the gateway's line, the event the
// handler sees and the function's own log lines share one id.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
