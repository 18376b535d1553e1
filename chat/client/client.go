// Package client is the Go SDK for Switchboard's chat protocol
// (docs/protocol.md): connect with a token, one typed method per action,
// broadcasts on a channel, and automatic reconnect with exponential backoff
// and full jitter that rejoins rooms and fetches what was missed, without
// delivering a message twice. Given the addresses of several nodes
// (Options.URLs), it reconnects to the next one when its node dies.
//
// It talks to the server only over the WebSocket protocol and imports no
// server package, so it works the same against `switchboard dev` and AWS.
//
// # Goroutines and Close
//
// A Client's methods are safe for concurrent use. Dial starts one goroutine
// that reads the connection and reconnects; it owns the goroutines it starts
// in turn (heartbeats, and the resume after each reconnect) and waits for
// them before it ends. Close stops them all and returns only once every
// goroutine the Client started has ended and Events is closed. No event is
// sent on Events after it is closed. After Close, requests fail with
// ErrClosed.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Options configure a Client. Zero values take the defaults shown.
type Options struct {
	URL string // ws://127.0.0.1:8080/dev
	// URLs are more addresses of the same service: the nodes of a cluster
	// (docs/cluster.md), or several load balancers. Dial tries URL, then
	// URLs, in turn until one answers; every reconnect attempt goes to the
	// next address after the one that last failed or dropped (round
	// robin), so that the client of a node that died reaches a live one at
	// once. One of URL and URLs is required.
	URLs []string
	// Token is sent as ?token=; TokenFunc, when set, is called before every
	// (re)connect instead, so that an expired token can be renewed.
	Token     string
	TokenFunc func(ctx context.Context) (string, error)
	Header    http.Header

	RequestTimeout    time.Duration // 10s
	HeartbeatInterval time.Duration // 2m; negative: none
	NoReconnect       bool
	MinBackoff        time.Duration // 250ms
	MaxBackoff        time.Duration // 30s
	EventBuffer       int           // 256 events; a consumer that falls behind loses the oldest
	Logger            *slog.Logger
}

// State of the connection.
type State string

const (
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	StateReconnecting State = "reconnecting"
	StateClosed       State = "closed"
)

// Client is a connection to the chat backend that survives reconnects.
// Close it to release its goroutines.
type Client struct {
	opts   Options
	urls   []string // URL, then URLs
	cur    int      // the index in urls of the next dial; guarded by mu
	log    *slog.Logger
	events chan Event
	seq    atomic.Int64

	mu      sync.Mutex
	conn    *websocket.Conn
	state   State
	pending map[string]chan response
	rooms   map[string]*roomState // joined rooms: rejoined after a reconnect
	closed  bool
	wmu     sync.Mutex // serializes writes

	emu          sync.Mutex // guards sends on events against its close
	eventsClosed bool

	wg     sync.WaitGroup     // the run goroutine; Close waits for it
	cancel context.CancelFunc // stops run and what it started
}

type roomState struct {
	lastID string          // newest message seen
	seen   map[string]bool // message ids delivered (bounded)
	order  []string
}

const seenPerRoom = 1000

// Dial connects and returns a Client. The first connection must succeed;
// later drops are repaired in the background (unless NoReconnect).
func Dial(ctx context.Context, opts Options) (*Client, error) {
	urls := addresses(opts)
	if len(urls) == 0 {
		return nil, errors.New("client: Options.URL (or URLs) is required")
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 2 * time.Minute
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 256
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, urls: urls, log: log, events: make(chan Event, opts.EventBuffer),
		pending: map[string]chan response{}, rooms: map[string]*roomState{}, state: StateConnecting}
	var conn *websocket.Conn
	var err error
	for range urls {
		if conn, err = c.dial(ctx); err == nil {
			break
		}
		var de *DialError
		if errors.As(err, &de) && (de.StatusCode == http.StatusUnauthorized || de.StatusCode == http.StatusForbidden) {
			return nil, err // the token is refused: by every node alike
		}
		c.next()
	}
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.setConn(conn, StateConnected)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(bg, conn)
	}()
	return c, nil
}

// addresses are the URLs to connect to, in order: URL, then URLs, each once.
func addresses(o Options) []string {
	var out []string
	for _, u := range append([]string{o.URL}, o.URLs...) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// next moves to the next address (round robin).
func (c *Client) next() {
	c.mu.Lock()
	c.cur = (c.cur + 1) % len(c.urls)
	c.mu.Unlock()
}

// URL is the address the client is connected to, or dials next.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[c.cur]
}

// DialError is a refused handshake.
type DialError struct {
	StatusCode int // 401: bad token; 429: too many connections
	Err        error
}

func (e *DialError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("client: connecting: HTTP %d: %v", e.StatusCode, e.Err)
	}
	return fmt.Sprintf("client: connecting: %v", e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	tok := c.opts.Token
	if c.opts.TokenFunc != nil {
		t, err := c.opts.TokenFunc(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: getting a token: %w", err)
		}
		tok = t
	}
	c.mu.Lock()
	addr := c.urls[c.cur]
	c.mu.Unlock()
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("client: URL: %w", err)
	}
	if tok != "" {
		q := u.Query()
		q.Set("token", tok)
		u.RawQuery = q.Encode()
	}
	d := websocket.Dialer{HandshakeTimeout: c.opts.RequestTimeout, ReadBufferSize: 1024, WriteBufferSize: 1024}
	conn, resp, err := d.DialContext(ctx, u.String(), c.opts.Header)
	if err != nil {
		de := &DialError{Err: err}
		if resp != nil {
			de.StatusCode = resp.StatusCode
		}
		return nil, de
	}
	return conn, nil
}

// setConn records the connection and the state, and tells Events; false,
// changing nothing, once the client is closed.
func (c *Client) setConn(conn *websocket.Conn, st State) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.conn, c.state = conn, st
	c.mu.Unlock()
	c.emit(Event{Type: EventState, State: st})
	return true
}

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Events delivers broadcasts (and EventState changes). It is closed, after
// a last EventState with StateClosed, once the client is closed: by Close,
// or when the connection ends for good (NoReconnect). Nothing is sent on it
// after that.
func (c *Client) Events() <-chan Event { return c.events }

// emit delivers an event, dropping the oldest when the consumer lags. It
// never blocks, and drops the event once Events is closed: the goroutines
// that emit end before Events is closed, and this guard keeps it so.
func (c *Client) emit(ev Event) {
	c.emu.Lock()
	defer c.emu.Unlock()
	if c.eventsClosed {
		return
	}
	for {
		select {
		case c.events <- ev:
			return
		default:
		}
		select {
		case <-c.events:
		default:
		}
	}
}

// run reads frames until the connection drops, then reconnects. It owns
// the goroutines it starts (heartbeats; a resume after each reconnect, bound
// to that connection) and waits for them before it closes Events and ends.
func (c *Client) run(ctx context.Context, conn *websocket.Conn) {
	var tasks sync.WaitGroup
	defer c.finish(&tasks)
	if c.opts.HeartbeatInterval > 0 {
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			c.heartbeats(ctx)
		}()
	}
	stopResume := func() {}
	defer func() { stopResume() }()
	for {
		c.readLoop(conn)
		conn.Close()
		// The resume of this connection, if still running, is moot.
		stopResume()
		c.failPending(ErrDisconnected)
		if c.isClosed() || c.opts.NoReconnect {
			return
		}
		if !c.setConn(nil, StateReconnecting) {
			return
		}
		var err error
		conn, err = c.reconnect(ctx)
		if err != nil {
			return
		}
		if !c.setConn(conn, StateConnected) {
			// Closed while this connection was being made: Close did not
			// see it, so close it here.
			closeNormally(conn, &c.wmu)
			return
		}
		rctx, cancel := context.WithCancel(ctx)
		var resumed sync.WaitGroup
		resumed.Add(1)
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			defer resumed.Done()
			c.resume(rctx)
		}()
		stopResume = func() { cancel(); resumed.Wait() }
	}
}

// finish ends the client: its goroutines are stopped and waited for, then
// the closed state is told and Events closed.
func (c *Client) finish(tasks *sync.WaitGroup) {
	c.mu.Lock()
	c.state = StateClosed
	c.closed = true
	c.conn = nil
	c.mu.Unlock()
	c.cancel()
	tasks.Wait()
	c.emit(Event{Type: EventState, State: StateClosed})
	c.emu.Lock()
	c.eventsClosed = true
	close(c.events)
	c.emu.Unlock()
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// reconnect dials with exponential backoff and full jitter until it
// succeeds or the client is closed.
func (c *Client) reconnect(ctx context.Context) (*websocket.Conn, error) {
	backoff := c.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		c.next()
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		conn, err := c.dial(ctx)
		if err == nil {
			c.log.Info("reconnected", "attempt", attempt, "url", c.URL())
			return conn, nil
		}
		c.log.Info("reconnect failed", "attempt", attempt, "err", err)
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

func (c *Client) readLoop(conn *websocket.Conn) {
	for {
		_, p, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if err := json.Unmarshal(p, &f); err != nil {
			c.log.Warn("unreadable frame", "err", err)
			continue
		}
		if f.Type == "success" || f.Type == "error" {
			c.mu.Lock()
			ch := c.pending[f.RequestID]
			delete(c.pending, f.RequestID)
			c.mu.Unlock()
			if ch != nil {
				ch <- response{frame: f}
			}
			continue
		}
		c.deliver(f)
	}
}

// deliver turns a broadcast into an Event; message broadcasts already
// delivered (by history after a reconnect, say) are dropped.
func (c *Client) deliver(f frame) {
	ev := Event{Type: f.Type, RoomID: f.RoomID, Data: f.Data, Timestamp: parseTime(f.Timestamp), NotAnnounced: f.Announced != nil && !*f.Announced}
	if f.Type == BroadcastMessage {
		var m Message
		if json.Unmarshal(f.Data, &m) == nil {
			if !m.Edited && !m.Deleted && !c.markSeen(m) {
				return
			}
			ev.Message = &m
		}
	}
	c.emit(ev)
}

// markSeen records a new message; false if it was delivered before.
func (c *Client) markSeen(m Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.rooms[m.RoomID]
	if rs == nil {
		return true // not a room we track
	}
	if rs.seen[m.MessageID] {
		return false
	}
	rs.seen[m.MessageID] = true
	rs.order = append(rs.order, m.MessageID)
	if len(rs.order) > seenPerRoom {
		delete(rs.seen, rs.order[0])
		rs.order = rs.order[1:]
	}
	if m.MessageID > rs.lastID {
		rs.lastID = m.MessageID
	}
	return true
}

// resume rejoins the rooms joined before the drop and delivers the
// messages missed meanwhile, oldest first, then tells EventResumed. It
// stops, without EventResumed, when ctx ends (the connection dropped again,
// or Close).
func (c *Client) resume(ctx context.Context) {
	c.mu.Lock()
	rooms := map[string]string{}
	for id, rs := range c.rooms {
		rooms[id] = rs.lastID
	}
	c.mu.Unlock()
	for roomID, lastID := range rooms {
		if ctx.Err() != nil {
			return
		}
		if _, err := c.JoinRoom(ctx, roomID); err != nil {
			c.log.Warn("rejoining after reconnect", "roomId", roomID, "err", err)
			continue
		}
		missed, err := c.missedSince(ctx, roomID, lastID)
		if err != nil {
			c.log.Warn("fetching missed messages", "roomId", roomID, "err", err)
			continue
		}
		for i := len(missed) - 1; i >= 0; i-- {
			m := missed[i]
			if c.markSeen(m) {
				c.emit(Event{Type: BroadcastMessage, RoomID: roomID, Message: &m, Data: mustJSON(m), Timestamp: m.Timestamp, Resumed: true})
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	c.emit(Event{Type: EventResumed})
}

// missedSince pages back through history until lastID (newest first).
func (c *Client) missedSince(ctx context.Context, roomID, lastID string) ([]Message, error) {
	var out []Message
	cursor := ""
	for {
		page, err := c.History(ctx, HistoryInput{RoomID: roomID, Limit: 100, Cursor: cursor})
		if err != nil {
			return out, err
		}
		for _, m := range page.Messages {
			if m.MessageID <= lastID {
				return out, nil
			}
			out = append(out, m)
		}
		if page.Cursor == "" {
			return out, nil
		}
		cursor = page.Cursor
	}
}

func (c *Client) heartbeats(ctx context.Context) {
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.State() == StateConnected {
				if err := c.Heartbeat(ctx); err != nil {
					c.log.Debug("heartbeat", "err", err)
				}
			}
		}
	}
}

// Close closes the connection (code 1000) and stops reconnecting. It
// returns once every goroutine the client started has ended and Events is
// closed. Calling it again, or after the connection ended for good, is
// harmless.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	if !already {
		c.cancel()
		if conn != nil {
			closeNormally(conn, &c.wmu)
		}
	}
	c.wg.Wait()
	return nil
}

// closeNormally sends a close frame (1000) and closes conn; wmu serializes
// the frame with other writers.
func closeNormally(conn *websocket.Conn, wmu *sync.Mutex) {
	wmu.Lock()
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	wmu.Unlock()
	conn.Close()
}

func (c *Client) failPending(err error) {
	c.mu.Lock()
	p := c.pending
	c.pending = map[string]chan response{}
	c.mu.Unlock()
	for _, ch := range p {
		ch <- response{err: err}
	}
}

// ErrDisconnected: the connection dropped before the reply came.
var ErrDisconnected = errors.New("client: disconnected before the reply")

// ErrClosed: the client was closed.
var ErrClosed = errors.New("client: closed")

// do sends one request and waits for its reply.
func (c *Client) do(ctx context.Context, action string, data any, out any) error {
	_, err := c.doAt(ctx, action, data, out)
	return err
}

// doAt is do, also returning the server's timestamp of the reply.
func (c *Client) doAt(ctx context.Context, action string, data any, out any) (time.Time, error) {
	var at time.Time
	err := c.request(ctx, action, data, out, &at)
	return at, err
}

func (c *Client) request(ctx context.Context, action string, data any, out any, at *time.Time) error {
	id := fmt.Sprintf("go-%d", c.seq.Add(1))
	body, err := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	if err != nil {
		return fmt.Errorf("client: %s: %w", action, err)
	}
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return ErrDisconnected
	}
	c.pending[id] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	conn.SetWriteDeadline(time.Now().Add(c.opts.RequestTimeout))
	err = conn.WriteMessage(websocket.TextMessage, body)
	c.wmu.Unlock()
	if err != nil {
		c.forget(id)
		return fmt.Errorf("client: %s: %w", action, err)
	}
	timer := time.NewTimer(c.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		*at = parseTime(r.frame.Timestamp)
		if r.frame.Type == "error" {
			return &Error{Code: r.frame.Code, Message: r.frame.Error, RequestID: id, RetryAfter: time.Duration(r.frame.RetryAfterMs) * time.Millisecond}
		}
		if out != nil {
			if err := json.Unmarshal(r.frame.Data, out); err != nil {
				return fmt.Errorf("client: %s: decoding reply: %w", action, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return ctx.Err()
	case <-timer.C:
		c.forget(id)
		return fmt.Errorf("client: %s: no reply within %v", action, c.opts.RequestTimeout)
	}
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

type response struct {
	frame frame
	err   error
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idFloor is the smallest message id (a ULID) the server can give a message
// created at or after t: ids sort by creation time.
func idFloor(t time.Time) string {
	ms := uint64(t.UnixMilli())
	var b [26]byte
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 10; i < 26; i++ {
		b[i] = '0'
	}
	return string(b[:])
}
