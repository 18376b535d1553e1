package devstack

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
	"github.com/switchboard-ws/switchboard/push"
)

// gatewayPusher is the in-process fast path of push.Pusher: it hands data
// straight to the gateway, and builds a broadcast's frame once for all its
// recipients.
type gatewayPusher struct {
	gw       *gateway.Server
	maxBytes int
}

var _ push.Pusher = gatewayPusher{}

func (p gatewayPusher) Post(ctx context.Context, id string, data []byte) error {
	err := p.gw.Post(ctx, id, data)
	if errors.Is(err, gateway.ErrGone) {
		return fmt.Errorf("%w: %s", push.ErrGone, id)
	}
	return err
}

func (p gatewayPusher) PostMany(ctx context.Context, ids []string, data []byte) ([]string, error) {
	if len(data) > p.maxBytes {
		return nil, fmt.Errorf("broadcast of %d bytes: %w", len(data), gateway.ErrPayloadTooLarge)
	}
	gone, failed := p.gw.PostFrameResult(ctx, ids, wsproto.TextFrame(data))
	if len(failed) > 0 {
		// Held by another node that did not answer: the fan-out queue
		// sends these again.
		return gone, &push.DeliveryError{Failed: failed, Err: errors.New("another node of the cluster not reached")}
	}
	return gone, nil
}

// lazyPusher breaks the construction cycle between the handlers (which push
// through the gateway) and the gateway (which calls the handlers).
type lazyPusher struct{ p atomic.Pointer[push.Pusher] }

func (l *lazyPusher) set(p push.Pusher) { l.p.Store(&p) }

func (l *lazyPusher) Post(ctx context.Context, id string, data []byte) error {
	return (*l.p.Load()).Post(ctx, id, data)
}

func (l *lazyPusher) PostMany(ctx context.Context, ids []string, data []byte) ([]string, error) {
	return (*l.p.Load()).PostMany(ctx, ids, data)
}
