package dynamo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// CountUserConnections reads no more items than it counts when none has
// expired, however many connections the user has: the per-user limit
// costs a bounded read (issue 12).
func TestCountReadsAtMostMax(t *testing.T) {
	t.Parallel()
	ep := endpoint(t)
	var scanned, calls atomic.Int64
	client := LocalClient(ep, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("switchboard/scanned",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if q, ok := out.Result.(*dynamodb.QueryOutput); ok {
						scanned.Add(int64(q.ScannedCount))
						calls.Add(1)
					}
					return out, md, err
				}), middleware.After)
		})
	})
	s := New(client, newTable(t, LocalClient(ep)), Options{Now: func() time.Time { return t0 }})
	ctx := t.Context()
	for i := range 40 {
		must(t, s.PutConnection(ctx, testConn(fmt.Sprintf("c%02d", i), "t", "alice")))
	}
	for _, max := range []int{1, 5, 21} {
		scanned.Store(0)
		calls.Store(0)
		n, err := s.CountUserConnections(ctx, "t", "alice", max)
		must(t, err)
		if n != max {
			t.Errorf("count up to %d of 40 connections = %d", max, n)
		}
		if scanned.Load() != int64(max) || calls.Load() != 1 {
			t.Errorf("count up to %d read %d items in %d queries, want %d in 1", max, scanned.Load(), calls.Load(), max)
		}
	}
}
