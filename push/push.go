// Package push delivers data to WebSocket connections: the API Gateway
// @connections management API as the chat handlers use it. The SDK
// implementation talks to AWS (or to a Switchboard gateway) with the
// aws-sdk-go-v2 client; an in-process gateway implements the same
// interface as a fast path.
package push

import (
	"context"
	"errors"
)

// ErrGone is returned for a connection that is no longer connected (the
// management API's 410 GoneException).
var ErrGone = errors.New("push: connection is gone")

// Pusher posts data to connections.
type Pusher interface {
	// Post sends data to one connection; ErrGone if it is gone.
	Post(ctx context.Context, connectionID string, data []byte) error
	// PostMany sends the same data to many connections and returns those
	// that are gone; err reports other failures (some deliveries may have
	// failed for other reasons and are not in gone).
	PostMany(ctx context.Context, connectionIDs []string, data []byte) (gone []string, err error)
}
