package devstack_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/dynamolocal"
)

var tableSeq atomic.Int64

// TestChatOnDynamoDB runs the chat end-to-end suite with the DynamoDB store
// (`switchboard dev --store dynamodb`) against DynamoDB Local, each test
// on a fresh stack with a table of its own.
func TestChatOnDynamoDB(t *testing.T) {
	if os.Getenv("SWITCHBOARD_SKIP_DYNAMODB") == "1" {
		t.Skip("SWITCHBOARD_SKIP_DYNAMODB=1")
	}
	endpoint, stop, err := dynamolocal.Endpoint()
	if err != nil {
		t.Fatalf("DynamoDB Local: %v (set SWITCHBOARD_SKIP_DYNAMODB=1 to skip)", err)
	}
	t.Cleanup(stop)
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
	chattest.Run(t, func(t *testing.T) *chattest.Target {
		_, tg := startStack(t, stackOptions{newStore: newStore})
		return tg
	})
}
