package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// readerGoroutines counts, among the goroutines of the package not in
// before, those reading a connection.
func readerGoroutines(before map[string]string) int {
	n := 0
	for _, g := range newGoroutines(before) {
		if strings.Contains(g, "gateway.(*conn).read") {
			n++
		}
	}
	return n
}

// Idle connections hold no goroutine (their readers are parked), and a
// parked connection still does everything a connection does: it answers
// messages, is closed by the server (DELETE, shutdown) and by the client
// (close frame, or the TCP connection dropped), and $disconnect tells why.
// Not parallel: it counts the process's goroutines.
func TestIdleConnectionsParkTheirReaders(t *testing.T) {
	before := gatewayGoroutines()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo " + ev.Body}, nil
		})},
	}}, "$connect", "$disconnect")
	const n = 40
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = g.dial(t, "", nil)
	}
	idle := func(what string) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, func() bool { return readerGoroutines(before) == 0 },
			"%s: no goroutine reading the idle connections; %d still are", what, readerGoroutines(before))
	}
	idle("connected")

	// Twice: each message wakes a parked reader, which parks again.
	for round := range 2 {
		for i, c := range conns {
			msg := fmt.Sprintf("m%d-%d", round, i)
			send(t, c, msg)
			if got := readText(t, c); got != "echo "+msg {
				t.Fatalf("connection %d answered %q to %q", i, got, msg)
			}
		}
		idle(fmt.Sprintf("after round %d", round))
	}

	// The server closes a parked connection: the client gets the close
	// frame and answers it.
	// The $connect events are in dial order.
	ids := map[string]int{}
	connectIDs := make([]string, n)
	for i, ev := range g.events.waitFor(t, "$connect", n) {
		ids[ev.RequestContext.ConnectionID] = i
		connectIDs[i] = ev.RequestContext.ConnectionID
	}
	deleted := connectIDs[0]
	if err := g.Server.Disconnect(context.Background(), deleted); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, conns[0]); ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("DELETE: close %d %q", ce.Code, ce.Text)
	}
	// The client closes one with a close frame, and drops another.
	if err := conns[1].WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, conns[1]); ce.Code != 4001 {
		t.Fatalf("the echo of the client's close: %d", ce.Code)
	}
	conns[2].NetConn().Close()

	want := map[string]int64{
		deleted:       1000,
		connectIDs[1]: 4001,
		connectIDs[2]: 1006,
	}
	evs := g.events.waitFor(t, "$disconnect", 3)
	for _, ev := range evs {
		id := ev.RequestContext.ConnectionID
		if code, ok := want[id]; !ok || ev.RequestContext.DisconnectStatusCode != code {
			t.Errorf("$disconnect of %s (connection %d): %d, want %d", id, ids[id], ev.RequestContext.DisconnectStatusCode, code)
		}
	}

	// Shutdown closes the parked rest with 1001, and leaves no goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Server.Shutdown(ctx) }()
	for i, c := range conns[3:] {
		if ce := readClose(t, c); ce.Code != websocket.CloseGoingAway {
			t.Fatalf("connection %d at shutdown: close %d", i+3, ce.Code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(g.events.waitFor(t, "$disconnect", n)); got != n {
		t.Fatalf("%d $disconnect after shutdown, want %d", got, n)
	}
	noNewGoroutines(t, before)
}

// Connections opened and closed in every way, many at once, so that
// sockets' descriptors are reused while others are parked, woken and
// closed: each connection answers its messages, and each ends with exactly
// one $disconnect.
func TestParkedConnectionsChurn(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.Body == "whoami" {
				return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.ConnectionID}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
		})},
	}}, "$connect", "$disconnect")
	const workers, each = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c, _, err := g.tryDial("", nil)
				if err != nil {
					errs <- err
					return
				}
				for m := range i % 3 {
					msg := fmt.Sprintf("w%d-%d-%d", w, i, m)
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
						errs <- err
						return
					}
					if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
						errs <- fmt.Errorf("%s answered %q, %v", msg, p, err)
						return
					}
				}
				switch i % 3 {
				case 0:
					c.NetConn().Close()
				case 1:
					c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(5*time.Second))
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					drainUntilClosed(c)
				default:
					// The server closes it (DELETE): the client answers.
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if err := c.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
						errs <- err
						return
					}
					_, id, err := c.ReadMessage()
					if err != nil {
						errs <- err
						return
					}
					if err := g.Server.Disconnect(context.Background(), string(id)); err != nil {
						errs <- err
						return
					}
					drainUntilClosed(c)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	oneDisconnectEach(t, g, workers*each)
}

// A client that does not answer the server's close frame is dropped after
// the close grace period, whether its reader was waiting for its next
// frame (it had just sent one) or parked (it had been idle): the wait for
// the next frame and the grace period share the socket's read deadline.
func TestUnansweredCloseEndsWhetherIdleOrNot(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.ConnectionID}, nil
		})},
	}}, "$disconnect")
	for _, idle := range []bool{false, true} {
		nc, br := g.rawDial(t)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(rawFrame(wsproto.OpText, true, []byte("who"))); err != nil {
			t.Fatal(err)
		}
		op, id, err := readServerFrame(br)
		if err != nil || op != wsproto.OpText {
			t.Fatalf("the answer: %v %q %v", op, id, err)
		}
		if idle {
			// Idle long enough for the reader to park.
			time.Sleep(300 * time.Millisecond)
		}
		if err := g.Server.Disconnect(context.Background(), string(id)); err != nil {
			t.Fatal(err)
		}
		op, payload, err := readServerFrame(br)
		if err != nil || op != wsproto.OpClose || closeCode(payload) != 1000 {
			t.Fatalf("idle %v: got %v %q %v, want a 1000 close frame", idle, op, payload, err)
		}
		// No answer: the gateway ends the TCP connection, and $disconnect runs.
		if _, err := br.ReadByte(); err == nil {
			t.Fatalf("idle %v: the connection is still open after the close grace period", idle)
		}
		if code, _ := g.disconnectOf(t, string(id)); code != 1000 {
			t.Fatalf("idle %v: $disconnect code %d", idle, code)
		}
	}
}

// Shutting down a server whose readers parked stops the poller quietly:
// closing its epoll descriptor is how it is stopped, not a failure, so
// the log has no error in it. Not parallel: it counts the process's
// goroutines to see the reader park.
func TestShutdownWithParkedReadersLogsNoError(t *testing.T) {
	before := gatewayGoroutines()
	var logs testutil.Buffer
	g := start(t, gateway.Options{
		Routes: map[string]gateway.Route{"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
		})}},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	c := g.dial(t, "", nil)
	send(t, c, "hi")
	if got := readText(t, c); got != "hi" {
		t.Fatalf("echo: %q", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return readerGoroutines(before) == 0 }, "the idle connection's reader to park")
	var reader sync.WaitGroup
	reader.Go(func() { readUntilClosed(c) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	reader.Wait()
	if l := logs.String(); strings.Contains(l, "level=ERROR") {
		t.Fatalf("Shutdown logged an error:\n%s", l)
	}
}

// Parked connections reset by their clients while the server writes to
// them (so that a failed write, not the reader, closes the socket), woken
// by a message, or closed by the server, many at once: the sockets'
// descriptors are reused by new connections while old ones are still
// known to the poller. Every connection woken by a message answers it, and
// every connection ends with exactly one $disconnect.
func TestParkedConnectionsDescriptorReuse(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.Body == "whoami" {
				return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.ConnectionID}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
		})},
	}}, "$connect", "$disconnect")
	const workers, each = 8, 24
	big := make([]byte, 64<<10)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c, _, err := g.tryDial("", nil)
				if err != nil {
					errs <- err
					return
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if err := c.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
					errs <- err
					return
				}
				_, id, err := c.ReadMessage()
				if err != nil {
					errs <- err
					return
				}
				// Idle long enough for the reader to park (parkAfter is 50 ms).
				time.Sleep(time.Duration(60+(w*7+i*13)%40) * time.Millisecond)
				switch i % 3 {
				case 0:
					// Reset by the client while the server writes to it.
					c.NetConn().(*net.TCPConn).SetLinger(0)
					c.NetConn().Close()
					for range 4 {
						if g.Server.Post(context.Background(), string(id), big) != nil {
							break
						}
					}
				case 1:
					msg := fmt.Sprintf("w%d-%d", w, i)
					if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
						errs <- err
						return
					}
					if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
						errs <- fmt.Errorf("parked connection %s answered %q to %q: %v", id, p, msg, err)
						return
					}
					c.Close()
				default:
					if err := g.Server.Disconnect(context.Background(), string(id)); err != nil {
						errs <- err
						return
					}
					drainUntilClosed(c)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	oneDisconnectEach(t, g, workers*each)
}

// A TLS connection keeps its reader: its library holds decrypted bytes
// the socket no longer shows, so a reader parked on the socket would miss
// them. Two messages sent in one TLS record after the connection idled
// past the park delay are both answered.
func TestTLSConnectionNeverParks(t *testing.T) {
	t.Parallel()
	srv, err := gateway.New(gateway.Options{Stage: "dev", Logger: testutil.DiscardLogger(), Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo " + ev.Body}, nil
		})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	u, _ := url.Parse(hs.URL)
	tc, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(tc, "GET /dev HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", u.Host)
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for round := range 2 {
		// Idle long enough for a plain connection's reader to park.
		time.Sleep(150 * time.Millisecond)
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		if _, err := tc.Write(append(rawFrame(wsproto.OpText, true, []byte(a)), rawFrame(wsproto.OpText, true, []byte(b))...)); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"echo " + a, "echo " + b} {
			op, p, err := readServerFrame(br)
			if err != nil || op != wsproto.OpText || string(p) != want {
				t.Fatalf("round %d: got %v %q %v, want %q", round, op, p, err, want)
			}
		}
	}
}

// Frames a client sends right behind its handshake are buffered with it:
// the reader reads them before the socket, and does not park while any
// are left, since the socket will not tell it about them. Both messages,
// sent in the handshake's own write, are answered with no more traffic.
func TestFramesBehindTheHandshakeAreReadBeforeParking(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo " + ev.Body}, nil
		})},
	}})
	u, _ := url.Parse(g.http.URL)
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Appendf(nil, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", g.stage, u.Host)
	req = append(req, rawFrame(wsproto.OpText, true, []byte("one"))...)
	req = append(req, rawFrame(wsproto.OpText, true, []byte("two"))...)
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for _, want := range []string{"echo one", "echo two"} {
		op, p, err := readServerFrame(br)
		if err != nil || op != wsproto.OpText || string(p) != want {
			t.Fatalf("got %v %q %v, want %q", op, p, err, want)
		}
	}
}

// A parked connection closed by the server (DELETE) at the moment its
// client sends a message: the poller's wake and the close each want a
// reader, and exactly one must run (two would split the frames between
// them). The client gets the 1000 close frame, never a protocol error,
// and $disconnect runs once, with 1000.
func TestWakeRacingCloseStartsOneReader(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.ConnectionID}, nil
		})},
	}}, "$disconnect")
	const n = 40
	type client struct {
		c  *websocket.Conn
		id string
	}
	clients := make([]client, n)
	for i := range clients {
		c := g.dial(t, "", nil)
		send(t, c, "whoami")
		clients[i] = client{c, readText(t, c)}
	}
	// Idle long enough for the readers to park.
	time.Sleep(200 * time.Millisecond)
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, cl := range clients {
		wg.Go(func() {
			var race sync.WaitGroup
			race.Go(func() {
				// Several frames, each in its own write, so that a second
				// reader would find the stream cut mid-frame.
				for range 8 {
					cl.c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 300)))
				}
			})
			race.Go(func() { g.Server.Disconnect(context.Background(), cl.id) })
			race.Wait()
			cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				_, _, err := cl.c.ReadMessage()
				if err == nil {
					continue
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes[i] = ce.Code
				}
				return
			}
		})
	}
	wg.Wait()
	for i, cl := range clients {
		if codes[i] != websocket.CloseNormalClosure {
			t.Errorf("connection %d: close %d, want 1000", i, codes[i])
		}
		if code, _ := g.disconnectOf(t, cl.id); code != 1000 {
			t.Errorf("connection %d: $disconnect %d, want 1000", i, code)
		}
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return g.Server.ConnectionCount() == 0 }, "every connection to be gone")
	seen := map[string]bool{}
	for _, ev := range g.events.of("$disconnect") {
		if id := ev.RequestContext.ConnectionID; seen[id] {
			t.Errorf("two $disconnect for %s", id)
		} else {
			seen[id] = true
		}
	}
}

// oneDisconnectEach waits for n $disconnect events, one per connection,
// and for every connection to be gone.
func oneDisconnectEach(t *testing.T, g *testGateway, n int) {
	t.Helper()
	seen := map[string]bool{}
	for _, ev := range g.events.waitFor(t, "$disconnect", n) {
		id := ev.RequestContext.ConnectionID
		if seen[id] {
			t.Fatalf("two $disconnect for %s", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d connections had a $disconnect, want %d", len(seen), n)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return g.Server.ConnectionCount() == 0 }, "every connection to be gone")
}

// drainUntilClosed reads (answering the close as the client library does)
// until the connection ends, then closes it.
func drainUntilClosed(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
	c.Close()
}
