package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// deepHandler decodes its event's body as chat's handlers do: a few
// kilobytes of stack (encoding/json recurses, the event passes by value).
func deepHandler(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	var env struct {
		Action string `json:"action"`
		Data   struct {
			RoomID string            `json:"roomId"`
			Meta   map[string]string `json:"meta"`
		} `json:"data"`
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(ev.Body), &env); err != nil {
		return events.APIGatewayProxyResponse{StatusCode: 400}, nil
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: env.Data.RoomID}, nil
}

// goroutineID is the running goroutine's number, from its stack trace.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := strings.Fields(string(b))
	return f[1] // "goroutine 42 [running]:"
}

func newCallersTestServer(t testing.TB) *Server {
	s, err := New(Options{Stage: "dev", Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// TestCallersAreReusedAndEndAtShutdown: calls one after the other run on
// one goroutine, which Shutdown ends at once (it waits for s.calls).
func TestCallersAreReusedAndEndAtShutdown(t *testing.T) {
	t.Parallel()
	s := newCallersTestServer(t)
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"joinRoom","data":{"roomId":"r1"},"requestId":"1"}`}
	ran := map[string]bool{} // the goroutines the calls ran on
	h := HandlerFunc(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		ran[goroutineID()] = true // the calls are one after the other
		return deepHandler(ctx, ev)
	})
	for i := range 20 {
		resp, err := s.invoke(context.Background(), h, &ev, time.Minute)
		if err != nil || resp.Body != "r1" {
			t.Fatalf("invoke: %+v, %v", resp, err)
		}
		// The goroutine of a call is handed the next once it waits for
		// one (it answers first): let it get there.
		testutil.Eventually(t, 10*time.Second, func() bool { return s.callers.waiting.Load() == 1 }, "call %d: no goroutine waits for the next", i)
	}
	if len(ran) != 1 {
		t.Fatalf("20 calls one after the other ran on %d goroutines, want 1", len(ran))
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.calls.Running(); n != 0 {
		t.Fatalf("after Shutdown, %d goroutines of calls still counted", n)
	}
}

// TestCallersPanicAndTimeout: a call that panics or outlives its timeout
// does not take the next call down with it.
func TestCallersPanicAndTimeout(t *testing.T) {
	t.Parallel()
	s := newCallersTestServer(t)
	release := make(chan struct{})
	slow := HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		<-release
		return events.APIGatewayProxyResponse{}, nil
	})
	panicky := HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		panic("boom")
	})
	if _, err := s.invoke(context.Background(), slow, &events.APIGatewayWebsocketProxyRequest{}, 10*time.Millisecond); err != errIntegrationTimeout {
		t.Fatalf("slow handler: %v, want the timeout", err)
	}
	if _, err := s.invoke(context.Background(), panicky, &events.APIGatewayWebsocketProxyRequest{}, time.Minute); err == nil {
		t.Fatal("a panicking handler's call succeeded")
	}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"data":{"roomId":"r2"}}`}
	if resp, err := s.invoke(context.Background(), HandlerFunc(deepHandler), &ev, time.Minute); err != nil || resp.Body != "r2" {
		t.Fatalf("the call after them: %+v, %v", resp, err)
	}
	if n := s.overdue.Load(); n != 1 {
		t.Fatalf("overdue %d, want the slow one", n)
	}
	close(release)
	testutil.Eventually(t, 10*time.Second, func() bool { return s.overdue.Load() == 0 }, "the slow call finished but is still counted overdue")
}

// BenchmarkInvoke is one call of an in-process handler as every event
// makes it ($connect, each message, $disconnect), one at a time and from
// 64 goroutines at once (a burst of connects):
//
//	go test -run '^$' -bench Invoke -benchmem ./gateway
func BenchmarkInvoke(b *testing.B) {
	s := newCallersTestServer(b)
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"joinRoom","data":{"roomId":"r1","meta":{"a":"b"}},"requestId":"1"}`}
	h := HandlerFunc(deepHandler)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.invoke(context.Background(), h, &ev, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.invoke(context.Background(), h, &ev, time.Minute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestPoolReusesAGoroutineAndStops: functions handed one after the other
// run on one goroutine, which stop ends; the count is of the functions
// running, not of the goroutine waiting for the next.
func TestPoolReusesAGoroutineAndStops(t *testing.T) {
	t.Parallel()
	count := newGoroutines()
	stop := make(chan struct{})
	p := newPool(&count, stop)
	ran := make(chan string)
	ids := map[string]bool{}
	for i := range 10 {
		p.Go(func() { ran <- goroutineID() })
		ids[<-ran] = true
		testutil.Eventually(t, 10*time.Second, func() bool { return p.waiting.Load() == 1 }, "function %d: no goroutine waits for the next", i)
		if n := count.Running(); n != 0 {
			t.Fatalf("function %d returned: %d counted while a goroutine waits for the next, want 0", i, n)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("10 functions one after the other ran on %d goroutines, want 1", len(ids))
	}
	close(stop)
	testutil.Eventually(t, 10*time.Second, func() bool { return p.waiting.Load() == 0 }, "the waiting goroutine to end at stop")
	// After stop, a function still runs, on a goroutine that then ends.
	p.Go(func() { ran <- goroutineID() })
	<-ran
	testutil.Eventually(t, 10*time.Second, func() bool { return count.Running() == 0 }, "the goroutine started after stop to end")
}

// TestShutdownOfAnIdleServerCountsNoWaitingGoroutine: a server whose
// connections all ended, shut down without waiting (its context already
// ended), has nothing left running: Shutdown returns nil and logs nothing
// left behind, however many pooled goroutines wait for their next function
// (they hold no work; Shutdown ends them).
func TestShutdownOfAnIdleServerCountsNoWaitingGoroutine(t *testing.T) {
	var handled atomic.Int64
	var logs testutil.Buffer
	s, err := New(Options{Stage: "dev", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Routes: map[string]Route{RouteDefault: {Integration: HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			handled.Add(1)
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		})}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	before := goroutineIDs()
	// A burst of connections, each with a message: their dispatchers and
	// calls ran on goroutines that now wait for the next.
	const n = 64
	var clients sync.WaitGroup
	for range n {
		clients.Go(func() {
			c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/dev", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
				t.Error(err)
			}
			testutil.Poll(10*time.Second, func() bool { return handled.Load() == n })
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		})
	}
	clients.Wait()
	var working []string
	testutil.Eventually(t, 10*time.Second, func() bool {
		working = gatewayWork(before)
		return handled.Load() == n && s.reg.len() == 0 && len(working) == 0
	}, "the server's work to end; still running:\n%s", strings.Join(working, "\n\n"))
	if s.dispatchers.waiting.Load()+s.callers.waiting.Load() == 0 {
		t.Skip("no pooled goroutine waits (they idled out): nothing to check")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown of a server with nothing running: %v, want nil", err)
	}
	if l := logs.String(); strings.Contains(l, "left behind") || strings.Contains(l, "still running") {
		t.Errorf("Shutdown of a server with nothing running logged goroutines left:\n%s", l)
	}
}

// goroutineIDs returns the ids of the goroutines running now.
func goroutineIDs() map[string]bool {
	ids := map[string]bool{}
	for _, g := range allStacks() {
		ids[strings.Fields(g)[1]] = true
	}
	return ids
}

func allStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// gatewayWork returns the stacks of the goroutines not in before that run
// code of the package other than a pooled goroutine waiting for its next
// function, the janitor and the parked readers' poller: readers, writers,
// dispatch loops, calls, $disconnect.
func gatewayWork(before map[string]bool) []string {
	var out []string
	for _, g := range allStacks() {
		if before[strings.Fields(g)[1]] || !strings.Contains(g, "switchboard/gateway.") {
			continue
		}
		waiting := strings.Contains(g, "gateway.(*pool).run(") && !strings.Contains(g, "gateway.(*pool).call(") &&
			!strings.Contains(g, "dispatchLoop") && !strings.Contains(g, "invoke") && !strings.Contains(g, "authorize")
		if waiting || strings.Contains(g, "gateway.(*Server).janitor(") || strings.Contains(g, "gateway.(*poller).loop(") {
			continue
		}
		out = append(out, g)
	}
	return out
}

// TestPoolShrinksToItsConcurrencyUnderSteadyLoad: after a burst, the
// goroutines a steady flow of functions, one at a time, does not need end
// within a couple of poolIdle. Handed round the waiting goroutines in turn
// (the longest waiting first), every one of them would get a function
// before its timer found it idle, and a pool would keep as many goroutines
// as functions come in poolIdle (a thousand at a thousand calls a second,
// with their grown stacks), not as many as run at once.
func TestPoolShrinksToItsConcurrencyUnderSteadyLoad(t *testing.T) {
	t.Parallel()
	count := newGoroutines()
	stop := make(chan struct{})
	defer close(stop)
	p := newPool(&count, stop)
	p.idleFor = 100 * time.Millisecond
	// A burst of 300 at once.
	const burst = 300
	var started, finished sync.WaitGroup
	release := make(chan struct{})
	for range burst {
		started.Add(1)
		finished.Add(1)
		p.Go(func() {
			started.Done()
			<-release
			finished.Done()
		})
	}
	started.Wait()
	close(release)
	finished.Wait()
	testutil.Eventually(t, 10*time.Second, func() bool { return p.waiting.Load() == burst }, "the burst's goroutines to wait for the next")
	// Then one function at a time, about 500 a second (50 in idleFor):
	// one goroutine is enough, the others must end within 2 idleFor and a
	// margin.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	within := 3*p.idleFor + 5*time.Second // a margin for a loaded machine: handed round in turn, ~50 stay for good
	deadline := time.Now().Add(within)
	for p.waiting.Load() > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still wait after %v of one function at a time (500/s), want at most 2", p.waiting.Load(), within)
		}
		<-tick.C
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
	}
}

// TestPoolRunsEveryFunctionAsGoroutinesIdleOut: functions handed from
// several goroutines at once, with pauses around the idle time, while the
// pool's goroutines idle out (a short idleFor) and, in one round, while
// stop closes: every function runs once, the count returns to zero, and
// every goroutine ends, none left waiting on a timer it will not re-arm
// (one taken by Go just as its timer fired) or on a function never sent.
func TestPoolRunsEveryFunctionAsGoroutinesIdleOut(t *testing.T) {
	t.Parallel()
	for round := range 4 {
		count := newGoroutines()
		stop := make(chan struct{})
		p := newPool(&count, stop)
		p.idleFor = 200 * time.Microsecond
		var ran atomic.Int64
		var senders sync.WaitGroup
		const per, n = 3000, 8
		for s := range n {
			senders.Go(func() {
				for i := range per {
					if (i+s)%97 == 0 {
						// A pause of up to 2 idleFor: goroutines idle out.
						for t0 := time.Now(); time.Since(t0) < time.Duration(i%5)*100*time.Microsecond; {
							runtime.Gosched()
						}
					}
					if round == 3 && s == 0 && i == per/2 {
						close(stop)
					}
					p.Go(func() { ran.Add(1) })
				}
			})
		}
		senders.Wait()
		testutil.Eventually(t, 10*time.Second, func() bool { return ran.Load() == per*n && count.Running() == 0 },
			"round %d: every function to run and be uncounted", round)
		testutil.Eventually(t, 10*time.Second, func() bool { return p.waiting.Load() == 0 }, "round %d: every goroutine to idle out", round)
		p.mu.Lock()
		for _, w := range p.idle {
			if w.idle {
				t.Errorf("round %d: a goroutine that ended is still on idle", round)
			}
		}
		p.mu.Unlock()
		if round != 3 {
			close(stop)
		}
	}
}
