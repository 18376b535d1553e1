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
