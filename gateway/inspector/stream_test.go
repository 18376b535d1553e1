package inspector_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/switchboard-ws/switchboard/internal/testutil"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/gateway/inspector"
)

// The event stream outlives the HTTP server's request timeouts (dev and
// serve give every response 60 s): each write has a deadline of its own,
// so an inspector left open still receives events after them. (Without
// that, the stream ends at the server's WriteTimeout.)
func TestInspectorStreamOutlivesRequestTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	h := newHarnessServed(t, func(h http.Handler) *httptest.Server {
		hs := httptest.NewUnstartedServer(h)
		hs.Config.ReadTimeout, hs.Config.WriteTimeout = timeout, timeout
		hs.Start()
		return hs
	})
	ch := h.stream(t)
	// Past both deadlines (a wait, not a measured assertion).
	<-time.After(3 * timeout)
	h.dial(t)
	next(t, ch, "a connect after the server's timeouts", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindConnect })
}

// blockedWriter is a ResponseWriter whose writes wait until open is
// closed: a page that stopped reading.
type blockedWriter struct {
	header http.Header
	open   chan struct{}
	ready  chan struct{} // closed at WriteHeader
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (w *blockedWriter) Header() http.Header { return w.header }
func (w *blockedWriter) WriteHeader(int)     { close(w.ready) }
func (w *blockedWriter) Flush()              {}
func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A page that falls behind loses events, never the gateway's time: the
// client's messages go through while the stream is stuck, and once it
// moves again the page is told how many events it lost.
func TestInspectorSlowPageIsToldWhatItLost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := &blockedWriter{header: http.Header{}, open: make(chan struct{}), ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, inspector.Path+"api/events", nil)
	done := make(chan struct{})
	go func() { defer close(done); inspector.New(h.gw).ServeHTTP(w, req) }()
	defer func() { cancel(); <-done }()
	<-w.ready

	c := h.dial(t)
	const n = 1000 // each a frame in and a frame out (Forbidden): 2,000 events
	for i := range n {
		if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	close(w.open)
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(w.String(), "event: dropped") }, "the dropped notice")
	var dropped int
	for _, line := range strings.Split(w.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, `data: {"dropped":`); ok {
			d, _ := strconv.Atoi(strings.TrimSuffix(rest, "}"))
			dropped += d
		}
	}
	if min := 2*n - gateway.DefaultInspectSubscriberBuffer - 10; dropped < min {
		t.Errorf("told of %d dropped events, want at least %d", dropped, min)
	}
}
