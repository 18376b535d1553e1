package devstack

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// SweepExpired deletes the items of sw expired at now and passes them to
// cleanup, in batches, as the DynamoDB Streams REMOVE records of TTL
// deletions (what the stack's sweeper hands chat.Cleanup, and what
// Lambda's event source mapping delivers to the cleanup function on AWS).
// It returns how many items it deleted. Tests use it to drive a cleanup
// function that runs elsewhere, such as the Lambda bootstrap.
func SweepExpired(ctx context.Context, sw store.Sweeper, now time.Time, region string, cleanup func(context.Context, events.DynamoDBEvent) error) (int, error) {
	return sweep(ctx, sw, now, region, cleanup)
}
