package dynamo

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/storetest"
)

func TestConformance(t *testing.T) {
	ep := endpoint(t)
	client := LocalClient(ep)
	start := time.Now()
	storetest.RunParallel(t, func(t *testing.T, now func() time.Time) store.Store {
		cs := &countingStore{}
		cs.Store = New(cs.client(ep), newTable(t, client), Options{Now: now})
		return cs
	})
	t.Logf("conformance suite: %v", time.Since(start).Round(time.Millisecond))
}

// countingStore is a Store whose client counts the items DynamoDB reads
// for it (storetest.ReadCounter): the ScannedCount of each Query and Scan
// (items read before any filter, Select COUNT included), and the item of
// each GetItem.
type countingStore struct {
	*Store
	reads atomic.Int64
}

var _ storetest.ReadCounter = (*countingStore)(nil)

func (cs *countingStore) ItemsRead() int64 { return cs.reads.Load() }

func (cs *countingStore) client(endpoint string) *dynamodb.Client {
	return LocalClient(endpoint, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("switchboard/count-reads",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					switch r := out.Result.(type) {
					case *dynamodb.QueryOutput:
						cs.reads.Add(int64(r.ScannedCount))
					case *dynamodb.ScanOutput:
						cs.reads.Add(int64(r.ScannedCount))
					case *dynamodb.GetItemOutput:
						if len(r.Item) > 0 {
							cs.reads.Add(1)
						}
					case *dynamodb.BatchGetItemOutput:
						for _, items := range r.Responses {
							cs.reads.Add(int64(len(items)))
						}
					}
					return out, md, err
				}), middleware.After)
		})
	})
}
