package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// member is a lean room member: one reader goroutine that counts the
// message broadcasts it receives by messageId and hands replies on.
type member struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	seen    map[string]int // messageId -> broadcasts received
	replies chan map[string]json.RawMessage
}

func dialMember(t *testing.T, st *devstack.Stack, user string) *member {
	t.Helper()
	tok, err := st.Token(user, user, "big", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(st.URL()+"?token="+tok, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	m := &member{conn: c, seen: map[string]int{}, replies: make(chan map[string]json.RawMessage, 4)}
	go func() {
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			var f map[string]json.RawMessage
			if json.Unmarshal(p, &f) != nil {
				continue
			}
			switch {
			case len(f["requestId"]) > 0:
				m.replies <- f
			case string(f["type"]) == `"message"`:
				var d struct {
					MessageID string `json:"messageId"`
				}
				json.Unmarshal(f["data"], &d)
				m.mu.Lock()
				m.seen[d.MessageID]++
				m.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return m
}

// do sends a request and returns the reply's data; it fails the test on an
// error reply.
func (m *member) do(t *testing.T, action string, data any) json.RawMessage {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": action})
	if err := m.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-m.replies:
		if string(r["type"]) != `"success"` {
			b, _ := json.Marshal(r)
			t.Fatalf("%s: %s", action, b)
		}
		return r["data"]
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no reply", action)
		return nil
	}
}

func (m *member) count(messageID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[messageID]
}

// fanoutProbe wraps the Fanout handler: it records the batches and fails
// the first invocation it sees once, before anything is posted.
type fanoutProbe struct {
	mu       sync.Mutex
	failOnce bool
	failed   int
	batches  []int // connection ids per record, per successful invocation
}

func (p *fanoutProbe) wrap(next queue.Handler) queue.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		p.mu.Lock()
		if p.failOnce {
			p.failOnce = false
			p.failed++
			p.mu.Unlock()
			return events.SQSEventResponse{}, fmt.Errorf("injected: the fanout function timed out")
		}
		for _, r := range ev.Records {
			var b struct {
				ConnectionIDs []string `json:"connectionIds"`
			}
			json.Unmarshal([]byte(r.Body), &b)
			p.batches = append(p.batches, len(b.ConnectionIDs))
		}
		p.mu.Unlock()
		return next(ctx, ev)
	}
}

func (p *fanoutProbe) take() (batches []int, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	batches, p.batches = p.batches, nil
	return batches, p.failed
}

func startFanoutStack(t *testing.T, cfg chat.Config, probe *fanoutProbe) *devstack.Stack {
	t.Helper()
	st, err := devstack.New(devstack.Options{
		DataDir:          t.TempDir(),
		SweepInterval:    time.Hour,
		Chat:             cfg,
		Limits:           gateway.Limits{ConnectRate: -1},
		FanoutQueue:      queue.LocalOptions{RetryDelay: 20 * time.Millisecond},
		FanoutMiddleware: probe.wrap,
		Logger:           testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st.Close(ctx)
	})
	return st
}

func flushQueue(t *testing.T, st *devstack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Queue.Flush(ctx); err != nil {
		t.Fatalf("fan-out queue: %v (%+v)", err, st.Queue.Stats())
	}
}

// fillRoom connects n members (users of 100 connections each, so that
// presence and user_joined stay few) and has them all join one room.
func fillRoom(t *testing.T, st *devstack.Stack, n int) (string, []*member) {
	t.Helper()
	members := make([]*member, n)
	for i := range members {
		members[i] = dialMember(t, st, fmt.Sprintf("user%02d", i/100))
	}
	var room struct {
		RoomID string `json:"roomId"`
	}
	json.Unmarshal(members[0].do(t, "createRoom", map[string]any{"name": "Town hall"}), &room)
	// Joins go 32 at a time: thousands at once would wait in line for the
	// store longer than the integration timeout on a slow (-race) run.
	var wg sync.WaitGroup
	errs := make(chan string, n)
	slots := make(chan struct{}, 32)
	for i := range members {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			b, _ := json.Marshal(map[string]any{"action": "joinRoom", "data": map[string]string{"roomId": room.RoomID}, "requestId": "join"})
			m := members[i]
			if err := m.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				errs <- err.Error()
				return
			}
			select {
			case r := <-m.replies:
				if string(r["type"]) != `"success"` {
					b, _ := json.Marshal(r)
					errs <- string(b)
				}
			case <-time.After(60 * time.Second):
				errs <- "no reply to joinRoom"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("joining: %s", e)
	}
	return room.RoomID, members
}

// waitAll waits until every member has received messageID.
func waitAll(t *testing.T, members []*member, messageID string) {
	t.Helper()
	i := 0 // the first member not known to have it
	if !testutil.Poll(30*time.Second, func() bool {
		for ; i < len(members); i++ {
			if members[i].count(messageID) == 0 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("member %d never received %s", i, messageID)
	}
}

// TestLargeRoomGoesThroughTheQueue: a broadcast to a room above the fan-out
// threshold goes through the fan-out queue in batches; a batch that fails
// once is delivered again; every member receives the message exactly once.
// The threshold and batch size are lowered (the defaults, 500 and 500, are
// TestDefaultFanoutThresholdAndBatch's in package chat) so that a room of
// 4 batches is 200 connections, not 2,000 under -race.
func TestLargeRoomGoesThroughTheQueue(t *testing.T) {
	t.Parallel()
	const batch, n = 50, 200
	probe := &fanoutProbe{}
	st := startFanoutStack(t, chat.Config{FanoutThreshold: batch, FanoutBatchSize: batch}, probe)
	roomID, members := fillRoom(t, st, n)
	flushQueue(t, st)
	probe.take()

	probe.mu.Lock()
	probe.failOnce = true
	probe.mu.Unlock()
	var msg struct {
		MessageID string `json:"messageId"`
	}
	json.Unmarshal(members[123].do(t, "sendMessage", map[string]any{"roomId": roomID, "content": "to all 200"}), &msg)
	waitAll(t, members, msg.MessageID)
	flushQueue(t, st)
	batches, failed := probe.take()
	if failed != 1 {
		t.Fatalf("%d injected failures, want 1", failed)
	}
	total := 0
	for _, b := range batches {
		if b > batch {
			t.Fatalf("a batch of %d connections; batches are at most %d", b, batch)
		}
		total += b
	}
	// 4 batches of 50; the failed invocation's records came again.
	if len(batches) < n/batch || total < n {
		t.Fatalf("batches %v: want at least %d covering %d connections", batches, n/batch, n)
	}
	if s := st.Queue.Stats(); s.Failed == 0 || s.DeadLettered != 0 || s.Pending != 0 {
		t.Fatalf("queue stats %+v: want a failure retried and nothing dead-lettered", s)
	}

	// Exactly once: a second message, queued after every delivery of the
	// first, reaches each member after any duplicate of the first would have.
	var marker struct {
		MessageID string `json:"messageId"`
	}
	json.Unmarshal(members[0].do(t, "sendMessage", map[string]any{"roomId": roomID, "content": "marker"}), &marker)
	waitAll(t, members, marker.MessageID)
	for i, m := range members {
		if n := m.count(msg.MessageID); n != 1 {
			t.Fatalf("member %d received the message %d times", i, n)
		}
	}
}

// TestFanoutThreshold: up to the threshold a broadcast is posted directly;
// above it, it is split into batches of the batch size.
func TestFanoutThreshold(t *testing.T) {
	t.Parallel()
	probe := &fanoutProbe{}
	st := startFanoutStack(t, chat.Config{FanoutThreshold: 4, FanoutBatchSize: 3}, probe)
	roomID, members := fillRoom(t, st, 4)
	flushQueue(t, st)
	probe.take()
	send := func(content string) string {
		var m struct {
			MessageID string `json:"messageId"`
		}
		json.Unmarshal(members[0].do(t, "sendMessage", map[string]any{"roomId": roomID, "content": content}), &m)
		return m.MessageID
	}
	id := send("four members: direct")
	waitAll(t, members, id)
	flushQueue(t, st)
	if b, _ := probe.take(); len(b) != 0 {
		t.Fatalf("a broadcast to 4 (threshold 4) was queued: %v", b)
	}
	members = append(members, dialMember(t, st, "user99"))
	members[4].do(t, "joinRoom", map[string]any{"roomId": roomID})
	id = send("five members: queued")
	waitAll(t, members, id)
	flushQueue(t, st)
	b, _ := probe.take()
	if want := "[3 2]"; fmt.Sprint(b) != want && fmt.Sprint(b) != "[2 3]" {
		t.Fatalf("batches %v, want %s", b, want)
	}
	for i, m := range members {
		if n := m.count(id); n != 1 {
			t.Fatalf("member %d received %d copies", i, n)
		}
	}
}
