// Package push delivers data to WebSocket connections: the API Gateway
// @connections management API as the chat handlers use it. The SDK
// implementation talks to AWS (or to a Switchboard gateway) with the
// aws-sdk-go-v2 client; an in-process gateway implements the same
// interface as a fast path.
package push

import (
	"context"
	"errors"
	"fmt"
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
	// failed for other reasons and are not in gone). When the failed
	// connections are known, err is (or wraps) a *DeliveryError naming
	// them; otherwise none may have been reached.
	PostMany(ctx context.Context, connectionIDs []string, data []byte) (gone []string, err error)
}

// DeliveryError is PostMany's error when some connections, and only those
// named, could not be reached for reasons other than being gone.
type DeliveryError struct {
	Failed []string
	Err    error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("push: %d deliveries failed: %v", len(e.Failed), e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }
