package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/devstack"
	"github.com/switchboard-ws/switchboard/store"
)

// clock is a settable clock shared by the stack and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	*devstack.Stack
	clock *clock
	dir   string
}

// startStack serves a dev stack on a loopback port. The sweeper runs only
// when the test calls Sweep.
func startStack(t *testing.T, dir string) *env {
	t.Helper()
	return startStackWith(t, dir, false)
}

func startStackWith(t *testing.T, dir string, viaAPI bool) *env {
	t.Helper()
	return startStackOpts(t, dir, viaAPI, nil)
}

func startStackOpts(t *testing.T, dir string, viaAPI bool, newStore func(now func() time.Time) store.Store) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	clk := &clock{now: time.Now()}
	var st0 store.Store
	if newStore != nil {
		st0 = newStore(clk.Now)
	}
	st, err := devstack.New(devstack.Options{
		DataDir:          dir,
		SweepInterval:    time.Hour,
		ViaManagementAPI: viaAPI,
		Store:            st0,
		Now:              clk.Now,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st.Close(ctx)
	})
	return &env{Stack: st, clock: clk, dir: dir}
}

// frame is one JSON frame a client received.
type frame struct {
	Type      string          `json:"type"`
	RoomID    string          `json:"roomId"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	Code      string          `json:"code"`
	RequestID string          `json:"requestId"`
	Timestamp string          `json:"timestamp"`
	raw       string
}

// client is a test user's tab: a real WebSocket connection whose frames are
// collected as they arrive.
type client struct {
	t       *testing.T
	name    string
	conn    *websocket.Conn
	frames  chan frame
	seq     atomic.Int64
	mu      sync.Mutex
	backlog []frame // frames read while looking for another
}

func (e *env) connect(t *testing.T, user, name, tenant string) *client {
	t.Helper()
	tok, err := e.Token(user, name, tenant, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return e.connectToken(t, name, tok)
}

func (e *env) connectToken(t *testing.T, name, token string) *client {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.URL()+"?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial: %v (HTTP %d)", name, err, status)
	}
	c := &client{t: t, name: name, conn: conn, frames: make(chan frame, 1024)}
	go func() {
		defer close(c.frames)
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var f frame
			if err := json.Unmarshal(p, &f); err != nil {
				f = frame{Type: "unparseable"}
			}
			f.raw = string(p)
			c.frames <- f
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (e *env) dialStatus(token string) int {
	_, resp, err := websocket.DefaultDialer.Dial(e.URL()+"?token="+token, nil)
	if err == nil {
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// next returns the first frame (from the backlog or the wire) matching pred.
func (c *client) next(pred func(frame) bool, what string) frame {
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
	timeout := time.After(5 * time.Second)
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
			c.t.Fatalf("%s: no %s within 5s (backlog: %v)", c.name, what, c.backlogRaw())
		}
	}
}

func (c *client) backlogRaw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.backlog {
		out = append(out, f.raw)
	}
	return out
}

// send sends raw text.
func (c *client) send(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// do sends an action and returns its reply (success or error).
func (c *client) do(action string, data any) frame {
	c.t.Helper()
	id := fmt.Sprintf("%s-%d", c.name, c.seq.Add(1))
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	c.send(string(b))
	return c.next(func(f frame) bool { return f.RequestID == id }, "reply to "+action)
}

// ok runs an action that must succeed and decodes its data into out.
func (c *client) ok(action string, data any, out any) {
	c.t.Helper()
	r := c.do(action, data)
	if r.Type != "success" {
		c.t.Fatalf("%s: %s failed: %s", c.name, action, r.raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			c.t.Fatalf("%s: %s reply: %v", c.name, action, err)
		}
	}
}

// fails runs an action that must fail with code.
func (c *client) fails(action string, data any, code string) frame {
	c.t.Helper()
	r := c.do(action, data)
	if r.Type != "error" || r.Code != code || r.Error == "" {
		c.t.Fatalf("%s: %s: got %s, want error %s", c.name, action, r.raw, code)
	}
	return r
}

// broadcast waits for a broadcast of a type (and room, if not "").
func (c *client) broadcast(typ, roomID string, pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	var data map[string]any
	c.next(func(f frame) bool {
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

// quiet checks that no frame matching pred arrives within a short while.
func (c *client) quiet(pred func(frame) bool, what string) {
	c.t.Helper()
	// Make sure everything sent so far was processed: a round trip first.
	c.ok("ping", nil, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.backlog {
		if pred(f) {
			c.t.Fatalf("%s: unexpected %s: %s", c.name, what, f.raw)
		}
	}
	for {
		select {
		case f := <-c.frames:
			if pred(f) {
				c.t.Fatalf("%s: unexpected %s: %s", c.name, what, f.raw)
			}
			c.backlog = append(c.backlog, f)
		default:
			return
		}
	}
}

func (c *client) close() {
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	c.conn.Close()
}
