package gateway_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// disconnectOf waits for the $disconnect of connection n and returns its
// status code and reason.
func (g *testGateway) disconnectOf(t *testing.T, id string) (int64, string) {
	t.Helper()
	var code int64
	var reason string
	testutil.Eventually(t, 5*time.Second, func() bool {
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.WriteMessage(websocket.CloseMessage, nil)
	if code, _ := g.disconnectOf(t, id); code != 1005 {
		t.Fatalf("$disconnect code %d, want 1005", code)
	}
}

func TestDisconnectAfterTCPDrop(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	c.UnderlyingConn().Close()
	if code, _ := g.disconnectOf(t, id); code != 1006 {
		t.Fatalf("$disconnect code %d, want 1006", code)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
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
		time.Sleep(idle / 8) // the pace of the activity under test: well inside the idle timeout
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
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxConnectionDuration: 300 * time.Millisecond}}, "$connect", "$disconnect", "$default")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	for i := 0; i < 3; i++ { // activity does not extend the duration
		send(t, c, "busy")
		time.Sleep(50 * time.Millisecond) // activity spread over the connection's lifetime, which it must not extend
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
	t.Parallel()
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
	t.Parallel()
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

// A DELETE while the client is busy sending still completes the closing
// handshake: the gateway keeps reading (and dropping) the client's messages
// until its close frame, so the client gets 1000, never a dropped TCP
// connection (1006) or a reset.
func TestDeleteWhileClientSendsDeliversTheClose(t *testing.T) {
	t.Parallel()
	var received sync.Map // connection id -> chan struct{}, closed at its first message
	arrived := func(id string) chan struct{} {
		ch, _ := received.LoadOrStore(id, make(chan struct{}))
		return ch.(chan struct{})
	}
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			ch := arrived(ev.RequestContext.ConnectionID)
			select {
			case <-ch:
			default:
				close(ch)
			}
			return events.APIGatewayProxyResponse{}, nil
		})},
	}}, "$connect")
	// 30 rounds: with the reader stopping at the DELETE (the bug), the
	// client saw a reset or 1006 by round 0 to 5 in 8 runs of 8 (100 rounds
	// took 6-10 s, last of the package's tests to finish).
	const n = 30
	for i := range n {
		c := g.dial(t, "", nil)
		id := g.connID(t, i)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c.WriteMessage(websocket.TextMessage, []byte(`{"x":1}`)) != nil {
					return
				}
			}
		}()
		select { // the client is sending
		case <-arrived(id):
		case <-time.After(5 * time.Second):
			t.Fatal("no message arrived")
		}
		if err := g.Disconnect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil {
			_, _, err = c.ReadMessage()
		}
		close(stop)
		wg.Wait()
		c.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1000 {
			t.Fatalf("connection %d: the client saw %v, want close 1000", i, err)
		}
	}
}

// Shutdown does not wait for a connection's backlog: messages not yet
// dispatched are dropped, the one running finishes, then $disconnect runs.
func TestShutdownDropsUndispatchedMessages(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var msgs atomic.Int32
	g := start(t, gateway.Options{
		Limits: gateway.Limits{IntegrationTimeout: 300 * time.Millisecond},
		Routes: map[string]gateway.Route{
			"$default": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				msgs.Add(1)
				select {
				case started <- struct{}{}:
				default:
				}
				<-release // every invocation times out
				return events.APIGatewayProxyResponse{}, nil
			})},
		},
	}, "$connect", "$disconnect")
	defer close(release)
	c := g.dial(t, "", nil)
	for range 20 {
		send(t, c, "m")
	}
	go readUntilClosed(c) // and answer the gateway's close
	<-started
	// 20 messages at 300 ms each would take 6 s.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := msgs.Load(); n >= 20 {
		t.Fatalf("%d messages dispatched during shutdown, want the backlog dropped", n)
	}
	if n := len(g.events.of("$disconnect")); n != 1 {
		t.Fatalf("%d $disconnect events after Shutdown, want 1", n)
	}
}

// When Shutdown's context ends first, $disconnect still runs, with a live
// context of its own (Shutdown cancels the one messages run under).
func TestDisconnectRunsAfterShutdownGivesUp(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	discErr := make(chan error, 1)
	g := start(t, gateway.Options{
		Routes: map[string]gateway.Route{
			"$default": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				select {
				case started <- struct{}{}:
				default:
				}
				<-release
				return events.APIGatewayProxyResponse{}, nil
			})},
			"$disconnect": {Integration: gateway.HandlerFunc(func(ctx context.Context, _ events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				discErr <- ctx.Err()
				return events.APIGatewayProxyResponse{}, nil
			})},
		},
	})
	defer close(release)
	c := g.dial(t, "", nil)
	for range 5 {
		send(t, c, "m")
	}
	go readUntilClosed(c)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v, want DeadlineExceeded (a message is still running)", err)
	}
	select {
	case err := <-discErr:
		if err != nil {
			t.Fatalf("$disconnect ran with a dead context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("$disconnect did not run")
	}
}

// readUntilClosed reads and drops messages until the connection ends; the
// client answers a close frame meanwhile.
func readUntilClosed(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// Posts, DELETEs, client closes, pings and a shutdown, all at once: every
// connection that was accepted gets exactly one $disconnect, and Shutdown
// returns in time. Run with -race.
func TestLifecycleStress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	discs := map[string]int{}
	var g *testGateway
	g = start(t, gateway.Options{
		Limits: gateway.Limits{MaxMessageBytes: 32 << 10, SendQueueBytes: 64 << 10, InboundQueue: 2, InboundQueueBytes: 4 << 10, ConnectRate: -1},
		Routes: map[string]gateway.Route{
			"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				if rand.IntN(10) == 0 {
					g.Disconnect(context.Background(), ev.RequestContext.ConnectionID)
				}
				return events.APIGatewayProxyResponse{Body: ev.Body}, nil
			})},
			"$disconnect": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				mu.Lock()
				discs[ev.RequestContext.ConnectionID]++
				mu.Unlock()
				return events.APIGatewayProxyResponse{}, nil
			})},
		},
	}, "$connect")
	const clients = 60
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := g.tryDial("", nil)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			go func() {
				for {
					c.SetReadDeadline(time.Now().Add(3 * time.Second))
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			for range 50 {
				switch rand.IntN(6) {
				case 0:
					c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
				case 1:
					if rand.IntN(20) == 0 {
						c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
					}
				default:
					c.WriteMessage(websocket.TextMessage, []byte(`{"action":"x"}`))
				}
			}
		}()
	}
	stop := make(chan struct{})
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, ev := range g.events.of("$connect") {
				g.Post(context.Background(), ev.RequestContext.ConnectionID, make([]byte, 8<<10))
				g.Info(context.Background(), ev.RequestContext.ConnectionID)
			}
		}
	}()
	// Shut down in the thick of it: everyone connected, some already gone.
	g.events.waitFor(t, "$connect", clients)
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(discs) >= 5 }, "5 connections ended")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	close(stop)
	<-posted
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	conns := g.events.of("$connect")
	for _, ev := range conns {
		if n := discs[ev.RequestContext.ConnectionID]; n != 1 {
			t.Errorf("%s: %d $disconnect", ev.RequestContext.ConnectionID, n)
		}
	}
	if len(discs) != len(conns) {
		t.Errorf("%d $disconnect for %d connections", len(discs), len(conns))
	}
}
