package gateway

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func newInspectServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Options{Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return s
}

// A subscriber that does not read loses what does not fit its buffer and
// is told how many; the ring keeps the last DefaultInspectEvents; a new
// subscriber gets them, oldest first.
func TestInspectStreamIsBounded(t *testing.T) {
	t.Parallel()
	s := newInspectServer(t)
	slow, recent, err := s.InspectSubscribe()
	if err != nil || len(recent) != 0 {
		t.Fatalf("subscribe: %v, %d recent", err, len(recent))
	}
	const extra = 10
	n := DefaultInspectSubscriberBuffer + DefaultInspectEvents + extra
	for i := range n {
		s.insp.publish(InspectEvent{Kind: EventKindFrameIn, ConnectionID: "c", Bytes: i})
	}
	if got, want := slow.Dropped(), uint64(n-DefaultInspectSubscriberBuffer); got != want {
		t.Errorf("dropped %d, want %d", got, want)
	}
	if got := slow.Dropped(); got != 0 {
		t.Errorf("dropped again: %d, want 0 once told", got)
	}
	if len(slow.C) != DefaultInspectSubscriberBuffer {
		t.Errorf("the slow subscriber holds %d events, want its buffer (%d)", len(slow.C), DefaultInspectSubscriberBuffer)
	}
	other, recent, err := s.InspectSubscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Cancel()
	if len(recent) != DefaultInspectEvents || recent[0].Bytes != n-DefaultInspectEvents || recent[len(recent)-1].Bytes != n-1 {
		t.Errorf("recent: %d events from %d to %d, want the last %d", len(recent), recent[0].Bytes, recent[len(recent)-1].Bytes, DefaultInspectEvents)
	}
	for i := 1; i < len(recent); i++ {
		if recent[i].Seq != recent[i-1].Seq+1 {
			t.Fatalf("recent out of order at %d", i)
		}
	}
	slow.Cancel()
	if _, ok := <-drain(slow.C); ok {
		t.Error("a cancelled subscription's channel stays open")
	}
}

func drain(c <-chan InspectEvent) <-chan InspectEvent {
	for range len(c) {
		<-c
	}
	return c
}

// Nothing is recorded while nobody watches; at most
// DefaultInspectSubscribers watch at once; Shutdown ends the streams.
func TestInspectRecordsOnlyWhileWatched(t *testing.T) {
	t.Parallel()
	s := newInspectServer(t)
	if s.insp.watching.Load() {
		t.Fatal("watching with no subscriber")
	}
	subs := make([]*InspectSubscription, 0, DefaultInspectSubscribers)
	for range DefaultInspectSubscribers {
		sub, _, err := s.InspectSubscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	if _, _, err := s.InspectSubscribe(); err != ErrTooManyInspectors {
		t.Errorf("subscriber %d: %v, want ErrTooManyInspectors", DefaultInspectSubscribers+1, err)
	}
	s.insp.publish(InspectEvent{Kind: EventKindConnect, ConnectionID: "a"})
	for _, sub := range subs {
		sub.Cancel()
	}
	if s.insp.watching.Load() {
		t.Fatal("still watching after every subscriber left")
	}
	s.insp.publish(InspectEvent{Kind: EventKindConnect, ConnectionID: "b"})
	ev := events.APIGatewayWebsocketProxyRequest{}
	if id := s.insp.keepInvocation(&ev, nil, nil); id != 0 {
		t.Errorf("an invocation was kept with nobody watching: %d", id)
	}
	sub, recent, _ := s.InspectSubscribe()
	if len(recent) != 1 || recent[0].ConnectionID != "a" {
		t.Errorf("recent %+v: want only the event published while watched", recent)
	}
	s.Shutdown(t.Context())
	if _, ok := <-drain(sub.C); ok {
		t.Error("Shutdown left a subscription open")
	}
}

// The kept invocations are bounded in number and size; credentials in
// the event are redacted; a huge event is cut.
func TestInspectInvocationsBoundedAndRedacted(t *testing.T) {
	t.Parallel()
	s := newInspectServer(t)
	sub, _, _ := s.InspectSubscribe()
	defer sub.Cancel()
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers:               map[string]string{"Authorization": "Bearer xyz", "Sec-WebSocket-Protocol": "chat, tok123", "X-Api-Key": "k1", "User-Agent": "ua"},
		MultiValueHeaders:     map[string][]string{"Cookie": {"sid=abc"}},
		QueryStringParameters: map[string]string{"token": "t0k", "room": "general"},
		RequestContext:        events.APIGatewayWebsocketProxyRequestContext{ConnectionID: "c1", RouteKey: "$connect"},
	}
	id := s.insp.keepInvocation(&ev, &events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Sec-WebSocket-Protocol": "tok123"}}, nil)
	inv, ok := s.Invocation(id)
	if !ok {
		t.Fatal("not kept")
	}
	all := string(inv.Event) + string(inv.Response)
	for _, secret := range []string{"xyz", "tok123", "k1", "abc", "t0k"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q shown: %s", secret, all)
		}
	}
	if !strings.Contains(all, `"room":"general"`) || !strings.Contains(all, `"User-Agent":"ua"`) {
		t.Errorf("what is not a credential must stay: %s", all)
	}
	if ev.Headers["Authorization"] != "Bearer xyz" {
		t.Error("the integration's own event was modified")
	}

	huge := events.APIGatewayWebsocketProxyRequest{Body: strings.Repeat("é", DefaultInspectJSONBytes)}
	id = s.insp.keepInvocation(&huge, nil, nil)
	inv, _ = s.Invocation(id)
	var cut string
	if !inv.Truncated || len(inv.Event) > DefaultInspectJSONBytes+64 || json.Unmarshal(inv.Event, &cut) != nil {
		t.Errorf("huge event: truncated %v, %d bytes, want a JSON string of at most ~%d", inv.Truncated, len(inv.Event), DefaultInspectJSONBytes)
	}

	for range DefaultInspectInvocations + 5 {
		id = s.insp.keepInvocation(&huge, nil, nil)
	}
	s.insp.mu.Lock()
	n, bytes := len(s.insp.inv.list), s.insp.inv.bytes
	s.insp.mu.Unlock()
	if n > DefaultInspectInvocations || bytes > DefaultInspectInvocationBytes {
		t.Errorf("kept %d invocations, %d bytes: want at most %d and %d", n, bytes, DefaultInspectInvocations, DefaultInspectInvocationBytes)
	}
	if _, ok := s.Invocation(id); !ok {
		t.Error("the newest invocation was forgotten")
	}
	if _, ok := s.Invocation(1); ok {
		t.Error("the oldest invocation is still kept")
	}
}

// The listing is the newest DefaultInspectConnections, newest first (by
// id within a millisecond), whatever order the registry walks them in.
func TestInspectConnectionsNewestFirst(t *testing.T) {
	t.Parallel()
	s := newInspectServer(t)
	const n = DefaultInspectConnections*2 + 37
	conns := make([]*conn, n)
	for i := range conns {
		c := &conn{srv: s, counts: new(connCounts)}
		c.meta.id = fmt.Sprintf("c%04d", (i*7919)%n) // ids not in connection order
		c.meta.connectedAt = int64(1000 + i/3)       // three a millisecond
		c.lastActive.Store(time.Now().UnixNano())
		s.reg.add(c)
		conns[i] = c
	}
	t.Cleanup(func() {
		for _, c := range conns {
			s.reg.remove(c) // they have no socket for Shutdown to close
		}
	})
	want := slices.Clone(conns)
	slices.SortFunc(want, func(a, b *conn) int {
		return cmp.Or(cmp.Compare(b.meta.connectedAt, a.meta.connectedAt), strings.Compare(a.meta.id, b.meta.id))
	})
	list, total := s.InspectConnections(t.Context())
	if total != n || len(list) != DefaultInspectConnections {
		t.Fatalf("%d listed of %d, want %d of %d", len(list), total, DefaultInspectConnections, n)
	}
	for i, ic := range list {
		if ic.ID != want[i].meta.id {
			t.Fatalf("listing[%d] = %s, want %s", i, ic.ID, want[i].meta.id)
		}
	}
}

// A message read is previewed from its own bytes, even when its buffer has
// the address and length of the previous one (a reused read buffer); the
// last frame previewed is not kept alive once nobody watches.
func TestInspectPreviewOfReusedBuffer(t *testing.T) {
	t.Parallel()
	s := newInspectServer(t)
	sub, _, _ := s.InspectSubscribe()
	c := &conn{srv: s, counts: new(connCounts)}
	buf := []byte("first message")
	s.insp.frame(c, eventFrameIn, buf)
	copy(buf, "other message")
	s.insp.frame(c, eventFrameIn, buf)
	if a, b := <-sub.C, <-sub.C; a.Preview != "first message" || b.Preview != "other message" {
		t.Errorf("previews %q, %q: want each message's own", a.Preview, b.Preview)
	}
	s.insp.frame(c, eventFrameOut, []byte("a broadcast"))
	sub.Cancel()
	if s.insp.last != nil {
		t.Errorf("the last frame (%q) is kept with nobody watching", s.insp.last)
	}
}
