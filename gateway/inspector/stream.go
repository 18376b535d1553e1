package inspector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// Timing of the event stream.
const (
	// DefaultHeartbeat is how often an idle stream sends a comment, so
	// that proxies and the browser keep it open.
	DefaultHeartbeat = 15 * time.Second
	// DefaultStreamWriteTimeout is how long one write to the stream may
	// block before the inspector is let go.
	DefaultStreamWriteTimeout = 10 * time.Second
)

// events is GET api/events: the recent events, then the live ones, as
// Server-Sent Events (each `data:` an InspectEvent as JSON), after an
// `event: hello` that names this server process (api.server: the events'
// numbers start again with a new one). When the page fell behind, an
// `event: dropped` says how many events it lost.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	sub, recent, err := a.gw.InspectSubscribe()
	switch {
	case errors.Is(err, gateway.ErrTooManyInspectors):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	defer sub.Cancel()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(write func() error) bool {
		rc.SetWriteDeadline(time.Now().Add(DefaultStreamWriteTimeout))
		return write() == nil
	}
	if !send(func() error {
		_, err := fmt.Fprintf(w, "event: hello\ndata: {\"server\":%q}\n\n", a.server)
		return err
	}) {
		return
	}
	for i := range recent {
		if !send(func() error { return writeEvent(w, &recent[i]) }) {
			return
		}
	}
	if !send(rc.Flush) {
		return
	}
	beat := time.NewTicker(DefaultHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			if !send(func() error { _, err := fmt.Fprint(w, ": heartbeat\n\n"); return err }) || !send(rc.Flush) {
				return
			}
		case e, ok := <-sub.C:
			if !ok {
				return // shutting down
			}
			// Everything already queued goes out in one flush.
			for ok {
				if !send(func() error { return writeEvent(w, &e) }) {
					return
				}
				select {
				case e, ok = <-sub.C:
				default:
					ok = false
				}
			}
			if n := sub.Dropped(); n > 0 {
				if !send(func() error { _, err := fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", n); return err }) {
					return
				}
			}
			if !send(rc.Flush) {
				return
			}
		}
	}
}

// writeEvent writes one event as a `data:` line (JSON has no newline).
func writeEvent(w http.ResponseWriter, e *gateway.InspectEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b)
	return err
}
