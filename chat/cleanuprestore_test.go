package chat_test

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestCleanupAfterRestore: TTL deleted an expired connection and its
// membership; before the stream records reach the cleanup handler, a
// heartbeat of the still-open socket restored the connection (the same
// id: heartbeat's restoreConnection stores it again) and the client
// joined the room again. The late records must not take the restored
// connection out of the room it is in now.
func TestCleanupAfterRestore(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &orderPusher{}
	svc := chat.New(st, p, nil, chat.Config{Logger: testutil.DiscardLogger()})
	ctx := t.Context()
	now := time.Now()
	conn := store.Connection{ConnectionID: "A", TenantID: "t", UserID: "alice", Username: "alice",
		ConnectedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := st.PutConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "A", UserID: "alice",
		Username: "alice", JoinedAt: now, ExpiresAt: conn.ExpiresAt}, 0); err != nil {
		t.Fatal(err)
	}
	imgs, err := st.DeleteExpired(ctx, now.Add(2*time.Minute), 100) // the expiry, as TTL sees it
	if err != nil || len(imgs) != 2 {
		t.Fatalf("DeleteExpired = %d images, %v; want the membership and the connection", len(imgs), err)
	}
	var ev events.DynamoDBEvent
	for _, img := range imgs {
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{
			EventName:    "REMOVE",
			UserIdentity: &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
			Change:       events.DynamoDBStreamRecord{OldImage: img},
		})
	}
	// The restore (as restoreConnection, whose DeleteConnection found
	// nothing), then the client's join again.
	restored := conn
	restored.ConnectedAt, restored.ExpiresAt = now, now.Add(10*time.Minute)
	if _, err := st.AddConnection(ctx, restored, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "A", UserID: "alice",
		Username: "alice", JoinedAt: now}, 0); err != nil {
		t.Fatal(err)
	}
	if err := svc.Cleanup(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ms, err := st.ConnectionRooms(ctx, "A")
	if err != nil || len(ms) != 1 {
		t.Errorf("the restored connection's rooms after the late cleanup: %+v, %v; want r", ms, err)
	}
}
