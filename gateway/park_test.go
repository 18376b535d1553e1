package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
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
