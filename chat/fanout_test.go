package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/push"
)

// flakyPusher fails the connections in fail (the management API's 5xx and
// throttling, a fault the real gateway does not produce on demand) and
// reports those in gone as gone.
type flakyPusher struct {
	mu        sync.Mutex
	fail      map[string]bool
	gone      map[string]bool
	opaque    bool // fail without saying which connections
	delivered map[string]int
}

func (p *flakyPusher) Post(ctx context.Context, id string, data []byte) error {
	_, err := p.PostMany(ctx, []string{id}, data)
	return err
}

func (p *flakyPusher) PostMany(_ context.Context, ids []string, _ []byte) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opaque {
		return nil, errors.New("connection refused")
	}
	var gone, failed []string
	for _, id := range ids {
		switch {
		case p.gone[id]:
			gone = append(gone, id)
		case p.fail[id]:
			failed = append(failed, id)
		default:
			p.delivered[id]++
		}
	}
	if len(failed) > 0 {
		return gone, &push.DeliveryError{Failed: failed, Err: errors.New("LimitExceededException")}
	}
	return gone, nil
}

type recordingQueue struct {
	bodies []string
	err    error
}

func (q *recordingQueue) Send(_ context.Context, bodies [][]byte) error {
	if q.err != nil {
		return q.err
	}
	for _, b := range bodies {
		q.bodies = append(q.bodies, string(b))
	}
	return nil
}

func newFanout(t *testing.T, p *flakyPusher, q chat.Queue) (*chat.Service, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if p.delivered == nil {
		p.delivered = map[string]int{}
	}
	return chat.New(st, p, nil, chat.Config{Queue: q, GoneGrace: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), st
}

func record(id, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, EventSource: "aws:sqs", Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

func failures(resp events.SQSEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	slices.Sort(out)
	return out
}

func TestFanoutRecords(t *testing.T) {
	p := &flakyPusher{fail: map[string]bool{"c2": true}}
	q := &recordingQueue{}
	svc, _ := newFanout(t, p, q)
	resp, err := svc.Fanout(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("ok", `{"connectionIds":["c1","c3"],"data":{"type":"message"}}`),
		record("partly", `{"connectionIds":["c4","c2"],"data":{"type":"message"}}`),
		record("nobody", `{"connectionIds":["c2"],"data":{"type":"message"}}`),
		record("last-try", `{"connectionIds":["c5","c2"],"data":{"type":"message"},"attempt":2}`),
		record("garbage", `{"connectionIds":`),
		record("empty", `{"connectionIds":[],"data":{}}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A record fails (and the queue delivers it again) only when no
	// connection was reached, or on the last attempt; malformed ones fail
	// and so end in the dead-letter queue.
	if got, want := failures(resp), []string{"empty", "garbage", "last-try", "nobody"}; !slices.Equal(got, want) {
		t.Fatalf("failed records %v, want %v", got, want)
	}
	// The partly delivered batch goes on with the unreached connection only.
	if len(q.bodies) != 1 {
		t.Fatalf("queued again: %q", q.bodies)
	}
	var rest struct {
		ConnectionIDs []string        `json:"connectionIds"`
		Data          json.RawMessage `json:"data"`
		Attempt       int             `json:"attempt"`
	}
	json.Unmarshal([]byte(q.bodies[0]), &rest)
	if !slices.Equal(rest.ConnectionIDs, []string{"c2"}) || rest.Attempt != 1 || string(rest.Data) != `{"type":"message"}` {
		t.Fatalf("rest of the batch: %s", q.bodies[0])
	}
	for _, id := range []string{"c1", "c3", "c4", "c5"} {
		if p.delivered[id] != 1 {
			t.Fatalf("%s received %d copies", id, p.delivered[id])
		}
	}
}

func TestFanoutWithoutFailedIDsRetriesTheRecord(t *testing.T) {
	svc, _ := newFanout(t, &flakyPusher{opaque: true}, &recordingQueue{})
	resp, _ := svc.Fanout(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("m1", `{"connectionIds":["c1","c2"],"data":{"type":"message"}}`),
	}})
	if got := failures(resp); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("failures %v", got)
	}
}

func TestFanoutRemovesGoneConnections(t *testing.T) {
	p := &flakyPusher{gone: map[string]bool{"GoneGoneGone0000=": true}}
	svc, st := newFanout(t, p, &recordingQueue{})
	ctx := context.Background()
	old := time.Now().Add(-time.Minute)
	st.PutConnection(ctx, store.Connection{ConnectionID: "GoneGoneGone0000=", TenantID: "t", UserID: "u", Username: "U", ConnectedAt: old, ExpiresAt: old.Add(time.Hour)})
	resp, _ := svc.Fanout(ctx, events.SQSEvent{Records: []events.SQSMessage{
		record("m1", `{"connectionIds":["GoneGoneGone0000=","c1"],"data":{"type":"message"}}`),
	}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	if _, err := st.GetConnection(ctx, "GoneGoneGone0000="); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("gone connection still stored: %v", err)
	}
}

// TestRefusedQueueFallsBackToDirect: when the queue refuses a large
// broadcast, it is posted directly rather than lost.
func TestRefusedQueueFallsBackToDirect(t *testing.T) {
	p := &flakyPusher{}
	q := &recordingQueue{err: errors.New("AWS.SimpleQueueService.NonExistentQueue")}
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p.delivered = map[string]int{}
	svc := chat.New(st, p, nil, chat.Config{Queue: q, FanoutThreshold: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	now := time.Now()
	st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u0", CreatedAt: now})
	ids := []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="}
	for i, id := range ids {
		user := string(rune('a' + i))
		st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)})
		st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: user, Username: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0)
	}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","data":{"roomId":"r","content":"hi"},"requestId":"1"}`}
	ev.RequestContext.ConnectionID = ids[0]
	ev.RequestContext.Authorizer = map[string]any{"userId": "a", "username": "a", "tenantId": "t"}
	if _, err := svc.Message(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		// ids[0] also got its reply.
		want := 1
		if id == ids[0] {
			want = 2
		}
		if p.delivered[id] != want {
			t.Fatalf("%s: %d posts, want %d", id, p.delivered[id], want)
		}
	}
}

// TestDirectBroadcastQueuesTheUnreached: a broadcast small enough to be
// posted directly that misses some connections (another cluster node not
// reached while NATS was down) queues those connections for the fan-out
// queue's retries instead of dropping them.
func TestDirectBroadcastQueuesTheUnreached(t *testing.T) {
	ids := []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="}
	p := &flakyPusher{fail: map[string]bool{ids[2]: true}}
	q := &recordingQueue{}
	svc, st := newFanout(t, p, q)
	ctx := context.Background()
	now := time.Now()
	st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u0", CreatedAt: now})
	for i, id := range ids {
		user := string(rune('a' + i))
		st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)})
		st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: user, Username: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0)
	}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","data":{"roomId":"r","content":"hi"},"requestId":"1"}`}
	ev.RequestContext.ConnectionID = ids[0]
	ev.RequestContext.Authorizer = map[string]any{"userId": "a", "username": "a", "tenantId": "t"}
	if _, err := svc.Message(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if p.delivered[ids[1]] != 1 || p.delivered[ids[2]] != 0 {
		t.Fatalf("delivered %v", p.delivered)
	}
	if len(q.bodies) != 1 {
		t.Fatalf("queued: %q, want one batch of the unreached connection", q.bodies)
	}
	var rest struct {
		ConnectionIDs []string        `json:"connectionIds"`
		Data          json.RawMessage `json:"data"`
		Attempt       int             `json:"attempt"`
	}
	json.Unmarshal([]byte(q.bodies[0]), &rest)
	if !slices.Equal(rest.ConnectionIDs, []string{ids[2]}) || rest.Attempt != 1 || !json.Valid(rest.Data) {
		t.Fatalf("queued batch: %s", q.bodies[0])
	}
	// The queue's consumer delivers it once the connection is reachable.
	p.fail = nil
	resp, err := svc.Fanout(ctx, events.SQSEvent{Records: []events.SQSMessage{record("retry", q.bodies[0])}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Fanout = %v, %v", resp, err)
	}
	if p.delivered[ids[2]] != 1 {
		t.Fatalf("the unreached connection received %d copies after the retry", p.delivered[ids[2]])
	}
}
