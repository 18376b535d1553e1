package devstack_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

var tableSeq atomic.Int64

// TestChatOnDynamoDB runs the chat end-to-end suite with the DynamoDB store
// (`switchboard dev --store dynamodb`) against DynamoDB Local, each test
// on a fresh stack with a table of its own, in parallel.
func TestChatOnDynamoDB(t *testing.T) {
	t.Parallel()
	endpoint := testutil.DynamoDB(t)
	db := dynamo.LocalClient(endpoint)
	newStore := func(now func() time.Time) store.Store {
		table := fmt.Sprintf("devstack-%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
		if err := dynamo.CreateTable(context.Background(), db, table); err != nil {
			t.Fatal(err)
		}
		// The DynamoDB Local may be shared: leave nothing behind (after
		// every subtest's stack has closed).
		t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })
		return dynamo.New(db, table, dynamo.Options{Now: now})
	}
	// Each test has a stack and a table of its own: they run in parallel,
	// overlapping their round trips to DynamoDB Local.
	chattest.RunParallel(t, func(t *testing.T) *chattest.Target {
		_, tg := startStack(t, stackOptions{newStore: newStore})
		return tg
	})
}
