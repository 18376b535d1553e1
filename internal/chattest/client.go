package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// Frame is one JSON frame a client received (a protocol.Frame), with the
// text it came as.
type Frame struct {
	protocol.Frame
	Raw string `json:"-"`
}

// Client is a test user's tab: a real WebSocket connection whose frames are
// collected as they arrive.
type Client struct {
	t       testing.TB
	tg      *Target
	name    string
	timeout time.Duration
	conn    *websocket.Conn
	frames  chan Frame
	seq     atomic.Int64
	mu      sync.Mutex
	backlog []Frame // frames read while looking for another
}

// MintToken mints a token for a user valid for an hour from now.
func (tg *Target) MintToken(t testing.TB, userID, username, tenantID string) string {
	t.Helper()
	tok, err := tg.Token(auth.Identity{UserID: userID, Username: username, TenantID: tenantID}, tg.now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Connect opens a connection for a user with a fresh token.
func (tg *Target) Connect(t testing.TB, userID, username, tenantID string) *Client {
	t.Helper()
	return tg.ConnectToken(t, username, tg.MintToken(t, userID, username, tenantID))
}

// ConnectToken opens a connection with token; name labels failures.
func (tg *Target) ConnectToken(t testing.TB, name, token string) *Client {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(tg.dialURL()+"?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial: %v (HTTP %d)", name, err, status)
	}
	c := &Client{t: t, tg: tg, name: name, timeout: tg.timeout(), conn: conn, frames: make(chan Frame, 1024)}
	go func() {
		defer close(c.frames)
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var f Frame
			if err := json.Unmarshal(p, &f); err != nil {
				f = Frame{Frame: protocol.Frame{Type: "unparseable"}}
			}
			f.Raw = string(p)
			c.frames <- f
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// DialStatus dials with a raw query (e.g. "token=T") and returns the HTTP
// status of the answer: 101 when the upgrade succeeded (the connection is
// closed at once), 0 when there was no HTTP answer.
func (tg *Target) DialStatus(query string) int {
	conn, resp, err := websocket.DefaultDialer.Dial(tg.dialURL()+"?"+query, nil)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// Next returns the first frame (from the backlog or the wire) matching pred.
func (c *Client) Next(pred func(Frame) bool, what string) Frame {
	c.t.Helper()
	c.mu.Lock()
	for i, f := range c.backlog {
		if pred(f) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			c.mu.Unlock()
			return f
		}
	}
	c.mu.Unlock()
	timeout := time.After(c.timeout)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("%s: connection closed while waiting for %s", c.name, what)
			}
			if pred(f) {
				return f
			}
			c.mu.Lock()
			c.backlog = append(c.backlog, f)
			c.mu.Unlock()
		case <-timeout:
			c.t.Fatalf("%s: no %s within %v (backlog: %v)", c.name, what, c.timeout, c.backlogRaw())
		}
	}
}

func (c *Client) backlogRaw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.backlog {
		out = append(out, f.Raw)
	}
	return out
}

// Send sends raw text.
func (c *Client) Send(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// Request sends an action with a fresh requestId and returns the id,
// without waiting for the reply (Reply waits).
func (c *Client) Request(action string, data any) string {
	c.t.Helper()
	id := fmt.Sprintf("%s-%d", c.name, c.seq.Add(1))
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	c.Send(string(b))
	return id
}

// Reply waits for the reply to a request.
func (c *Client) Reply(requestID string) Frame {
	c.t.Helper()
	return c.Next(func(f Frame) bool { return f.RequestID == requestID }, "reply to "+requestID)
}

// Do sends an action and returns its reply (success or error).
func (c *Client) Do(action string, data any) Frame {
	c.t.Helper()
	return c.Reply(c.Request(action, data))
}

// Succeeded checks that r is a success reply to action and decodes its
// data into out (if not nil).
func (c *Client) Succeeded(r Frame, action string, out any) {
	c.t.Helper()
	if r.Type != protocol.ReplySuccess {
		c.t.Fatalf("%s: %s failed: %s", c.name, action, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			c.t.Fatalf("%s: %s reply: %v", c.name, action, err)
		}
	}
}

// Failed checks that r is an error reply with code.
func (c *Client) Failed(r Frame, action, code string) {
	c.t.Helper()
	if r.Type != protocol.ReplyError || r.Code != code || r.Error == "" {
		c.t.Fatalf("%s: %s: got %s, want error %s", c.name, action, r.Raw, code)
	}
}

// OK runs an action that must succeed and decodes its data into out.
func (c *Client) OK(action string, data any, out any) {
	c.t.Helper()
	c.Succeeded(c.Do(action, data), action, out)
}

// Fails runs an action that must fail with code.
func (c *Client) Fails(action string, data any, code string) Frame {
	c.t.Helper()
	r := c.Do(action, data)
	c.Failed(r, action, code)
	return r
}

// Broadcast waits for a broadcast of a type (and room, if not "") whose
// data satisfies pred (if not nil).
func (c *Client) Broadcast(typ, roomID string, pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	var data map[string]any
	c.Next(func(f Frame) bool {
		if f.Type != typ || (roomID != "" && f.RoomID != roomID) || f.RequestID != "" {
			return false
		}
		var d map[string]any
		json.Unmarshal(f.Data, &d)
		if pred != nil && !pred(d) {
			return false
		}
		data = d
		return true
	}, typ+" broadcast")
	return data
}

// Quiet checks that no frame matching pred has arrived (see Arrived).
func (c *Client) Quiet(pred func(Frame) bool, what string, after ...*Client) {
	c.t.Helper()
	if f, ok := c.Arrived(pred, after...); ok {
		c.t.Fatalf("%s: unexpected %s: %s", c.name, what, f.Raw)
	}
}

// Arrived reports whether a frame matching pred has arrived (and leaves it
// in the backlog). The handlers reply to an action before they broadcast,
// so first the connections whose actions might have caused such a frame
// (after) make a round trip each: the gateway hands a connection its next
// message only once the handler of the previous one has returned,
// broadcasts posted. Then the system settles (Target.Settle: asynchronous
// deliveries are done), and c makes a round trip: whatever was posted to c
// before is in.
func (c *Client) Arrived(pred func(Frame) bool, after ...*Client) (Frame, bool) {
	c.t.Helper()
	for _, a := range after {
		a.OK("ping", nil, nil)
	}
	if c.tg.Settle != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := c.tg.Settle(ctx)
		cancel()
		if err != nil {
			c.t.Fatalf("%s: waiting for the system to settle: %v", c.name, err)
		}
	}
	c.OK("ping", nil, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
drain:
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				break drain // closed: Next reports it
			}
			c.backlog = append(c.backlog, f)
		default:
			break drain
		}
	}
	for _, f := range c.backlog {
		if pred(f) {
			return f, true
		}
	}
	return Frame{}, false
}

// Close closes the connection cleanly (close frame 1000).
func (c *Client) Close() {
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	c.conn.Close()
}
