package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
)

// disconnectOf waits for the $disconnect of connection n and returns its
// status code and reason.
func (g *testGateway) disconnectOf(t *testing.T, id string) (int64, string) {
	t.Helper()
	var code int64
	var reason string
	eventually(t, 5*time.Second, func() bool {
		for _, ev := range g.events.of("$disconnect") {
			if ev.RequestContext.ConnectionID == id {
				code = ev.RequestContext.DisconnectStatusCode
				if ev.RequestContext.DisconnectReason != nil {
					reason = *ev.RequestContext.DisconnectReason
				}
				return true
			}
		}
		return false
	}, "$disconnect of %s", id)
	return code, reason
}

func TestDisconnectAfterClientClose(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye now"))
	// The gateway answers the close handshake.
	if ce := readClose(t, c); ce.Code != 4001 {
		t.Fatalf("close echo %d", ce.Code)
	}
	code, reason := g.disconnectOf(t, id)
	if code != 4001 || reason != "bye now" {
		t.Fatalf("$disconnect %d %q, want 4001 \"bye now\"", code, reason)
	}
	if len(g.events.of("$disconnect")) != 1 {
		t.Fatal("$disconnect ran more than once")
	}
}

func TestDisconnectAfterBrowserGoesAway(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, ""))
	code, reason := g.disconnectOf(t, id)
	if code != 1001 || reason != "" {
		t.Fatalf("$disconnect %d %q, want 1001 \"\"", code, reason)
	}
}

func TestDisconnectAfterCloseWithoutCode(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.WriteMessage(websocket.CloseMessage, nil)
	if code, _ := g.disconnectOf(t, id); code != 1005 {
		t.Fatalf("$disconnect code %d, want 1005", code)
	}
}

func TestDisconnectAfterTCPDrop(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.UnderlyingConn().Close()
	if code, _ := g.disconnectOf(t, id); code != 1006 {
		t.Fatalf("$disconnect code %d, want 1006", code)
	}
}

func TestIdleTimeout(t *testing.T) {
	idle := 400 * time.Millisecond
	g := start(t, gateway.Options{Limits: gateway.Limits{IdleTimeout: idle}}, "$connect", "$disconnect", "$default")
	quiet := g.dial(t, "", nil)
	quietID := g.connID(t, 0)
	pinger := g.dial(t, "", nil)
	pingerID := g.connID(t, 1)
	talker := g.dial(t, "", nil)
	talkerID := g.connID(t, 2)
	listener := g.dial(t, "", nil)
	listenerID := g.connID(t, 3)
	pinger.SetPongHandler(func(string) error { return nil })
	go func() { // listener only reads
		for {
			if _, _, err := listener.ReadMessage(); err != nil {
				return
			}
		}
	}()

	startAt := time.Now()
	mgmt := g.management("", "")
	for time.Since(startAt) < 2*idle {
		// Pings do not count as activity; data either way does.
		pinger.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
		send(t, talker, "still here")
		if _, err := mgmt.PostToConnection(context.Background(), postInput(listenerID, "news")); err != nil {
			t.Fatalf("post to listener: %v", err)
		}
		time.Sleep(idle / 8)
	}
	for _, id := range []string{talkerID, listenerID} {
		for _, ev := range g.events.of("$disconnect") {
			if ev.RequestContext.ConnectionID == id {
				t.Fatalf("active connection %s was closed as idle", id)
			}
		}
	}
	for _, id := range []string{quietID, pingerID} {
		code, reason := g.disconnectOf(t, id)
		if code != 1001 || reason != "Idle timeout exceeded" {
			t.Fatalf("%s: $disconnect %d %q", id, code, reason)
		}
	}
	if ce := readClose(t, quiet); ce.Code != 1001 {
		t.Fatalf("idle client got close %d", ce.Code)
	}
}

func TestMaxConnectionDuration(t *testing.T) {
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxConnectionDuration: 300 * time.Millisecond}}, "$connect", "$disconnect", "$default")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	for i := 0; i < 3; i++ { // activity does not extend the duration
		send(t, c, "busy")
		time.Sleep(50 * time.Millisecond)
	}
	code, reason := g.disconnectOf(t, id)
	if code != 1001 || reason != "Maximum connection duration exceeded" {
		t.Fatalf("$disconnect %d %q", code, reason)
	}
	if ce := readClose(t, c); ce.Code != 1001 {
		t.Fatalf("close %d", ce.Code)
	}
}

func TestShutdownDisconnectsEveryone(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	var clients []*websocket.Conn
	for i := 0; i < 5; i++ {
		clients = append(clients, g.dial(t, "", nil))
	}
	g.events.waitFor(t, "$connect", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Shutdown returns after every $disconnect ran.
	if n := len(g.events.of("$disconnect")); n != 5 {
		t.Fatalf("%d $disconnect events after Shutdown, want 5", n)
	}
	for _, ev := range g.events.of("$disconnect") {
		if ev.RequestContext.DisconnectStatusCode != 1001 {
			t.Fatalf("code %d", ev.RequestContext.DisconnectStatusCode)
		}
	}
	for _, c := range clients {
		if ce := readClose(t, c); ce.Code != 1001 {
			t.Fatalf("client got close %d", ce.Code)
		}
	}
	if _, resp, err := g.tryDial("", nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after shutdown: %v %v", resp, err)
	}
}

func TestDisconnectWaitsForQueuedMessages(t *testing.T) {
	g := start(t, gateway.Options{}, "$connect", "$default", "$disconnect")
	c := g.dial(t, "", nil)
	for i := 0; i < 20; i++ {
		send(t, c, "m")
	}
	c.Close()
	g.events.waitFor(t, "$disconnect", 1)
	g.events.mu.Lock()
	defer g.events.mu.Unlock()
	last := g.events.events[len(g.events.events)-1]
	if last.RequestContext.RouteKey != "$disconnect" {
		t.Fatalf("last event %s, want $disconnect after every message", last.RequestContext.RouteKey)
	}
	if n := len(g.events.events); n != 22 {
		t.Fatalf("%d events, want 22", n)
	}
}
