package inspector_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
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
