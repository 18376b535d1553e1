package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// A client that answers nothing (frozen, or its network gone) is closed
// after MaxMissedPongs unanswered pings, even while data is posted to it
// (which keeps the idle timeout from running): 1001 "Ping timeout", and
// $disconnect runs.
func TestPingsCloseAClientThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{PingInterval: 50 * time.Millisecond, MaxMissedPongs: 2}}, "$connect", "$disconnect")
	nc, br := g.rawDial(t) // reads nothing, answers nothing
	id := g.connID(t, 0)
	if err := g.Post(context.Background(), id, []byte("busy room")); err != nil {
		t.Fatal(err)
	}
	code, reason := g.waitDisconnect(t, id)
	if code != 1001 || reason != "Ping timeout" {
		t.Errorf("$disconnect %d %q, want 1001 Ping timeout", code, reason)
	}
	if m := scrape(t, g.MetricsHandler()); m[`switchboard_connections_closed_total{cause="ping_timeout"}`] != 1 {
		t.Errorf("ping_timeout closes %v, want 1", m[`switchboard_connections_closed_total{cause="ping_timeout"}`])
	}
	// What the client was sent: its message, MaxMissedPongs pings, then
	// the close.
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var pings int
	for {
		op, payload, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("reading the frames sent: %v (pings so far %d)", err, pings)
		}
		if op == wsproto.OpPing {
			pings++
		}
		if op == wsproto.OpClose {
			if closeCode(payload) != 1001 || pings != 2 {
				t.Errorf("close %d after %d pings, want 1001 after 2", closeCode(payload), pings)
			}
			break
		}
	}
}

// A client that answers the pings (every WebSocket client does, while it
// reads) stays connected, however many pings it gets.
func TestPingsKeepAClientThatAnswers(t *testing.T) {
	t.Parallel()
	// The client has maxMissed intervals (1 s) to answer: slack for a
	// loaded machine.
	const maxMissed = 10
	g := start(t, gateway.Options{Limits: gateway.Limits{PingInterval: 100 * time.Millisecond, MaxMissedPongs: maxMissed}}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	var pings atomic.Int32
	c.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	// More than twice as many pings as may go unanswered.
	testutil.Eventually(t, 30*time.Second, func() bool {
		return pings.Load() >= 2*maxMissed+5 || len(g.events.of("$disconnect")) > 0
	}, "%d pings", 2*maxMissed+5)
	if _, err := g.Info(context.Background(), id); err != nil {
		t.Fatalf("after %d pings answered: %v", pings.Load(), err)
	}
	if evs := g.events.of("$disconnect"); len(evs) != 0 {
		t.Fatalf("$disconnect %+v", evs[0].RequestContext)
	}
}

func TestPingLimitsValidated(t *testing.T) {
	t.Parallel()
	for _, l := range []gateway.Limits{{PingInterval: -time.Second}, {PingInterval: time.Second, MaxMissedPongs: -1}} {
		if _, err := gateway.New(gateway.Options{Stage: "dev", Limits: l}); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}
