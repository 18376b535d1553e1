package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// These tests look at every goroutine of the process, so they do not run
// in parallel: top-level tests that call t.Parallel wait until the
// sequential ones are done. Goroutines of the package already running when
// a test starts (left by an earlier test) are ignored.

var goroutineHeader = regexp.MustCompile(`^goroutine (\d+) `)

// gatewayGoroutines returns the stacks, by goroutine id, of the goroutines
// running (or started by) code of package gateway, not its tests.
func gatewayGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	found := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		m := goroutineHeader.FindStringSubmatch(g)
		if m != nil && strings.Contains(g, "switchboard/gateway.") {
			found[m[1]] = g
		}
	}
	return found
}

// newGoroutines returns the stacks of the goroutines of package gateway not
// in before.
func newGoroutines(before map[string]string) []string {
	var out []string
	for id, g := range gatewayGoroutines() {
		if _, ok := before[id]; !ok {
			out = append(out, g)
		}
	}
	return out
}

// noNewGoroutines fails the test unless every goroutine of the package not
// in before ends soon (one that told Shutdown it is done may need a moment
// to return).
func noNewGoroutines(t *testing.T, before map[string]string) {
	t.Helper()
	testutil.Eventually(t, 2*time.Second, func() bool { return len(newGoroutines(before)) == 0 },
		"the goroutines of the gateway to end; still running:\n%s", strings.Join(newGoroutines(before), "\n\n"))
}

// A server that had connections, broadcasts in flight, a client that does
// not read (its writer blocked in a write) and an integration running past
// its timeout leaves no goroutine behind once Shutdown returned: it waited
// for all of them, the integration included.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	before := gatewayGoroutines()
	var slowStarted, slowFinished atomic.Bool
	slow := gateway.HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		slowStarted.Store(true)
		<-time.After(300 * time.Millisecond) // ignores its context, past the 50ms timeout
		slowFinished.Store(true)
		return events.APIGatewayProxyResponse{}, nil
	})
	g := start(t, gateway.Options{
		Routes: map[string]gateway.Route{gateway.RouteDefault: {Integration: slow}},
		Limits: gateway.Limits{IntegrationTimeout: 50 * time.Millisecond, WriteTimeout: 300 * time.Millisecond},
	}, "$connect", "$disconnect")

	var readers sync.WaitGroup
	var clients []*websocket.Conn
	for range 20 {
		c := g.dial(t, "", nil)
		clients = append(clients, c)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		readers.Go(func() { readUntilClosed(c) }) // gorilla answers the close frame
	}
	stuck, _ := g.rawDial(t) // never reads
	defer stuck.Close()
	ids := make([]string, 21)
	for i := range ids {
		ids[i] = g.connID(t, i)
	}

	if err := clients[0].WriteMessage(websocket.TextMessage, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, slowStarted.Load, "the slow integration to start")

	// Broadcasts, until every connection is gone.
	frame := wsproto.TextFrame(bytes.Repeat([]byte("x"), 16<<10))
	var broadcaster sync.WaitGroup
	var posted atomic.Int64
	broadcaster.Go(func() {
		for len(g.PostFrame(context.Background(), ids, frame)) < len(ids) {
			posted.Add(1)
		}
	})
	testutil.Eventually(t, 5*time.Second, func() bool { return posted.Load() > 10 }, "broadcasts to go out")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !slowFinished.Load() {
		t.Fatal("Shutdown returned before the integration running past its timeout finished")
	}
	if n := len(g.events.of("$disconnect")); n != 21 {
		t.Fatalf("%d $disconnect events after Shutdown, want 21", n)
	}
	broadcaster.Wait()
	readers.Wait()
	noNewGoroutines(t, before)
}

// An integration that never returns (it ignores its context) is user code
// Shutdown cannot stop: Shutdown waits for it until its context ends, then
// says in its log that it left it behind, and leaves only that goroutine.
func TestShutdownGivesUpOnAStuckIntegration(t *testing.T) {
	before := gatewayGoroutines()
	release := make(chan struct{})
	var started atomic.Bool
	stuck := gateway.HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		started.Store(true)
		<-release
		return events.APIGatewayProxyResponse{}, nil
	})
	var logs testutil.Buffer
	g := start(t, gateway.Options{
		Routes: map[string]gateway.Route{gateway.RouteDefault: {Integration: stuck}},
		Limits: gateway.Limits{IntegrationTimeout: 50 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs), nil)),
	}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	send(t, c, "hello")
	if got := readText(t, c); !strings.Contains(got, "Endpoint request timed out") {
		t.Fatalf("got %q, want the timeout frame", got)
	}
	if !started.Load() {
		t.Fatal("the integration did not start")
	}
	var reader sync.WaitGroup
	reader.Go(func() { readUntilClosed(c) }) // answers the gateway's close

	// The metrics count it (the timeout was answered: it runs past it).
	if n := scrape(t, g.MetricsHandler())["switchboard_integrations_past_timeout"]; n != 1 {
		t.Fatalf("switchboard_integrations_past_timeout = %v with one integration stuck past its timeout, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an integration that never returns: %v, want nil (the server's own goroutines ended)", err)
	}
	if ctx.Err() == nil {
		t.Fatal("Shutdown returned before its context ended, without waiting for the integration")
	}
	reader.Wait()
	if l := logs.String(); !strings.Contains(l, "left behind") || !strings.Contains(l, "integrationsPastTimeout=1") {
		t.Fatalf("Shutdown's log does not count the stuck integration:\n%s", l)
	}
	// A goroutine that has returned can still be listed for a moment (in
	// runtime.goexit): wait until only the stuck integration's is left.
	var left []string
	testutil.Poll(2*time.Second, func() bool {
		left = newGoroutines(before)
		return len(left) == 1 && strings.Contains(left[0], "TestShutdownGivesUpOnAStuckIntegration")
	})
	if len(left) != 1 || !strings.Contains(left[0], "TestShutdownGivesUpOnAStuckIntegration") {
		t.Fatalf("after Shutdown: %d goroutines of the gateway, want only the stuck integration's:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	close(release)
	noNewGoroutines(t, before)
	if n := scrape(t, g.MetricsHandler())["switchboard_integrations_past_timeout"]; n != 0 {
		t.Fatalf("switchboard_integrations_past_timeout = %v once the integration returned, want 0", n)
	}
}
