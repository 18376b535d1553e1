package gateway

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The inspector's engine side: a bounded ring of recent events (connects,
// disconnects, frames, routed messages) and the subscribers that watch them
// live (package gateway/inspector serves them as a page). Nothing is
// recorded while nobody watches: every hook checks one atomic first
// (insp.watching) and builds nothing when it is false.

// Limits of the inspector's memory (docs/limits.md).
const (
	// DefaultInspectEvents is how many recent events the ring keeps; a new
	// subscriber is given them first.
	DefaultInspectEvents = 1000
	// DefaultInspectSubscribers bounds the inspectors watching at once;
	// beyond it, InspectSubscribe returns ErrTooManyInspectors.
	DefaultInspectSubscribers = 8
	// DefaultInspectSubscriberBuffer is the events queued for one
	// subscriber; a subscriber that falls further behind loses events and
	// is told how many (InspectSubscription.Dropped).
	DefaultInspectSubscriberBuffer = 1024
	// DefaultInspectPreviewBytes is the longest frame preview kept in an
	// event (the rest is cut at a character boundary, with "…").
	DefaultInspectPreviewBytes = 256
	// DefaultInspectErrorBytes is the longest error (or close reason) kept
	// in an event, cut as a preview: a function's error message can be
	// megabytes, and the ring keeps DefaultInspectEvents of them.
	DefaultInspectErrorBytes = 1024
)

// Kinds of InspectEvent.
const (
	EventKindConnect    = "connect"
	EventKindDisconnect = "disconnect"
	EventKindFrameIn    = "frameIn"
	EventKindFrameOut   = "frameOut"
	EventKindInvocation = "invocation" // a route ran: a message's, or $disconnect
)

const (
	eventFrameIn  = EventKindFrameIn
	eventFrameOut = EventKindFrameOut
)

// InspectEvent is one thing the gateway did, as an inspector shows it.
type InspectEvent struct {
	Seq          uint64    `json:"seq"`
	Time         time.Time `json:"time"`
	Kind         string    `json:"kind"`
	ConnectionID string    `json:"connectionId"`
	// An invocation (and a connect, for $connect): the route, its request
	// id, the integration's kind and name, how long it took, and its
	// outcome (ok, error, timeout; a connect: ok or refused, with the
	// status in Code), with the error.
	Route       string  `json:"route,omitempty"`
	RequestID   string  `json:"requestId,omitempty"`
	Integration string  `json:"integration,omitempty"`
	Function    string  `json:"function,omitempty"`
	DurationMs  float64 `json:"durationMs,omitempty"`
	Outcome     string  `json:"outcome,omitempty"`
	Error       string  `json:"error,omitempty"`
	// Invocation names the event and response JSON kept for it
	// (Server.Invocation); 0 when none was kept.
	Invocation uint64 `json:"invocation,omitempty"`
	// A disconnect: the close code and reason.
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// A frame: its payload's size and the first DefaultInspectPreviewBytes.
	Bytes   int    `json:"bytes,omitempty"`
	Preview string `json:"preview,omitempty"`
}

// Failed reports whether the event is an error: a failed or timed-out
// invocation, a refused handshake, or a disconnect other than a normal or
// going-away close (or a client's close without a code, 1005: what a
// browser's WebSocket.close() sends).
func (e *InspectEvent) Failed() bool {
	switch e.Kind {
	case EventKindInvocation, EventKindConnect:
		return e.Outcome != "" && e.Outcome != outcomeOK
	case EventKindDisconnect:
		return e.Code != 1000 && e.Code != 1001 && e.Code != 1005
	}
	return false
}

// inspectHub is the ring and the subscribers. The lock is taken only
// while someone watches.
type inspectHub struct {
	watching atomic.Bool // a subscriber is connected: record

	mu   sync.Mutex
	ring []InspectEvent // DefaultInspectEvents slots, filled from next
	next uint64         // the sequence number of the next event
	subs map[*InspectSubscription]struct{}
	// last is the payload whose preview is lastPreview: a broadcast
	// queues one frame to every recipient, previewed once (holding the
	// payload keeps its address from being reused while it is compared).
	last        []byte
	lastPreview string

	inv invocations // event and response JSON (inspect_invocations.go)
}

// InspectSubscription receives the events recorded after it was made.
type InspectSubscription struct {
	// C carries the events; it is closed when the server shuts down or
	// the subscription is cancelled.
	C       <-chan InspectEvent
	c       chan InspectEvent
	dropped atomic.Uint64
	hub     *inspectHub
}

// Dropped returns how many events were lost since it was last called
// because the subscriber fell behind.
func (s *InspectSubscription) Dropped() uint64 { return s.dropped.Swap(0) }

// Cancel ends the subscription; C is closed. Recording stops when the
// last subscription ends.
func (s *InspectSubscription) Cancel() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	close(s.c)
	h.watching.Store(len(h.subs) > 0)
	if len(h.subs) == 0 {
		h.last, h.lastPreview = nil, "" // not kept alive while nobody watches
	}
}

// ErrTooManyInspectors is returned by InspectSubscribe when
// DefaultInspectSubscribers are watching already.
var ErrTooManyInspectors = fmt.Errorf("gateway: %d inspectors are watching already", DefaultInspectSubscribers)

// InspectSubscribe starts watching: recording begins (if it had not), and
// the events kept in the ring are returned, oldest first, to be shown
// before those C carries.
func (s *Server) InspectSubscribe() (*InspectSubscription, []InspectEvent, error) {
	h := &s.insp
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closing.Load() {
		return nil, nil, ErrServerClosed
	}
	if len(h.subs) >= DefaultInspectSubscribers {
		return nil, nil, ErrTooManyInspectors
	}
	if h.subs == nil {
		h.subs = make(map[*InspectSubscription]struct{})
		h.ring = make([]InspectEvent, DefaultInspectEvents)
	}
	c := make(chan InspectEvent, DefaultInspectSubscriberBuffer)
	sub := &InspectSubscription{C: c, c: c, hub: h}
	h.subs[sub] = struct{}{}
	h.watching.Store(true)
	return sub, h.recent(), nil
}

// recent returns the events in the ring, oldest first (h.mu held).
func (h *inspectHub) recent() []InspectEvent {
	n := uint64(len(h.ring))
	first := uint64(0)
	if h.next > n {
		first = h.next - n
	}
	out := make([]InspectEvent, 0, h.next-first)
	for seq := first; seq < h.next; seq++ {
		out = append(out, h.ring[seq%n])
	}
	return out
}

// publish numbers e, keeps it in the ring and hands it to every
// subscriber that has room; the others count it as dropped. It never
// blocks on a subscriber. A frame's payload, if given, becomes e's
// Preview.
func (h *inspectHub) publish(e InspectEvent, payload ...[]byte) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Error, e.Reason = clip(e.Error, DefaultInspectErrorBytes), clip(e.Reason, DefaultInspectErrorBytes)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return // the last one left after the caller looked
	}
	if len(payload) == 1 {
		if e.Kind == EventKindFrameOut {
			e.Preview = h.preview(payload[0])
		} else {
			// A message read is never previewed twice (and its buffer
			// is the reader's, whose address may come back).
			e.Preview = preview(payload[0])
		}
	}
	e.Seq = h.next + 1
	h.ring[h.next%uint64(len(h.ring))] = e
	h.next++
	for sub := range h.subs {
		select {
		case sub.c <- e:
		default:
			sub.dropped.Add(1)
		}
	}
}

// closeAll ends every subscription (Shutdown).
func (h *inspectHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		delete(h.subs, sub)
		close(sub.c)
	}
	h.watching.Store(false)
	h.last, h.lastPreview = nil, ""
}

// frame records a data frame in or out of c (payload without the header).
func (h *inspectHub) frame(c *conn, kind string, payload []byte) {
	h.publish(InspectEvent{Kind: kind, ConnectionID: c.meta.id, Bytes: len(payload)}, payload)
}

// preview returns p's preview, made once for the frame of a broadcast
// (h.mu held).
func (h *inspectHub) preview(p []byte) string {
	if len(p) != len(h.last) || unsafe.SliceData(p) != unsafe.SliceData(h.last) {
		h.last, h.lastPreview = p, preview(p)
	}
	return h.lastPreview
}

// preview is the start of a payload, cut at a character boundary.
func preview(p []byte) string {
	if len(p) <= DefaultInspectPreviewBytes {
		return string(p)
	}
	n := DefaultInspectPreviewBytes
	for n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return string(p[:n]) + "…"
}

// clip is s cut to at most max bytes at a character boundary, with "…".
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// payloadLen is the payload size of a frame the server built (unmasked).
func payloadLen(frame []byte) int { return len(framePayload(frame)) }

// connCounts are a connection's message bytes in (delivered to its
// dispatcher) and out (queued or written), guarded by the connection's mu.
type connCounts struct {
	in, out uint64
}
