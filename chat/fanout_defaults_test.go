package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
)

// TestDefaultFanoutThresholdAndBatch: with the default configuration, a
// broadcast to DefaultFanoutThreshold connections is posted directly and
// one to a connection more goes through the queue in batches of at most
// DefaultFanoutBatchSize. (The devstack's end-to-end test of the queue
// lowers both to keep its room small.)
func TestDefaultFanoutThresholdAndBatch(t *testing.T) {
	t.Parallel()
	p := &flakyPusher{}
	q := &recordingQueue{}
	svc, st := newFanout(t, p, q)
	ctx := context.Background()
	now := time.Now()
	st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u", CreatedAt: now})
	join := func(i int) string {
		id := fmt.Sprintf("conn%011d=", i)
		user := fmt.Sprintf("u%d", i/100)
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: user, Username: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
		return id
	}
	send := func() {
		t.Helper()
		ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","data":{"roomId":"r","content":"hi"},"requestId":"1"}`}
		ev.RequestContext.ConnectionID = fmt.Sprintf("conn%011d=", 0)
		ev.RequestContext.Authorizer = map[string]any{"userId": "u0", "username": "u0", "tenantId": "t"}
		if _, err := svc.Message(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range chat.DefaultFanoutThreshold {
		join(i)
	}
	send()
	if len(q.bodies) != 0 {
		t.Fatalf("a broadcast to %d connections was queued (%d batches); the default threshold is %d", chat.DefaultFanoutThreshold, len(q.bodies), chat.DefaultFanoutThreshold)
	}
	last := join(chat.DefaultFanoutThreshold)
	send()
	var sizes []int
	for _, b := range q.bodies {
		var body struct {
			ConnectionIDs []string `json:"connectionIds"`
		}
		if err := json.Unmarshal([]byte(b), &body); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(body.ConnectionIDs))
	}
	slices.Sort(sizes)
	if want := []int{chat.DefaultFanoutThreshold + 1 - chat.DefaultFanoutBatchSize, chat.DefaultFanoutBatchSize}; !slices.Equal(sizes, want) {
		t.Fatalf("a broadcast to %d connections was queued in batches of %v, want %v", chat.DefaultFanoutThreshold+1, sizes, want)
	}
	if p.delivered[last] != 0 {
		t.Fatalf("the queued broadcast was also posted directly")
	}
}
