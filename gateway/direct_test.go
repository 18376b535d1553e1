package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// Broadcasts to more connections than one direct writer takes, mixed with
// posts to single connections: every connection receives every frame, in
// the order it was sent.
func TestPostFrameKeepsOrder(t *testing.T) {
	t.Parallel()
	const n, rounds = 300, 30
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	var clients []*websocket.Conn
	var ids []string
	for i := range n {
		clients = append(clients, g.dial(t, "", nil))
		ids = append(ids, g.connID(t, i))
	}
	ctx := context.Background()
	var want []string
	for r := range rounds {
		msg := fmt.Sprintf("broadcast %d", r)
		want = append(want, msg)
		if gone := g.PostFrame(ctx, ids, wsproto.TextFrame([]byte(msg))); len(gone) != 0 {
			t.Fatalf("gone: %v", gone)
		}
		if r%3 == 0 {
			// A single post to everyone right behind the broadcast.
			for _, id := range ids {
				if err := g.Post(ctx, id, []byte(fmt.Sprintf("post %d", r))); err != nil {
					t.Fatal(err)
				}
			}
			want = append(want, fmt.Sprintf("post %d", r))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, c := range clients {
		wg.Go(func() {
			for k, w := range want {
				_, p, err := c.ReadMessage()
				if err != nil || string(p) != w {
					errs <- fmt.Sprintf("client %d message %d: %q, %v; want %q", i, k, p, err, w)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A client that stops reading while broadcasts keep coming: once its
// socket is full the rest waits in its queue, and past SendQueueBytes it is
// closed as a slow consumer; a reading client in the same broadcasts gets
// every one of them.
func TestPostFrameSlowConsumer(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{SendQueueBytes: 256 * 1024}}, "$connect", "$disconnect")
	g.dial(t, "", nil) // never reads
	reader := g.dial(t, "", nil)
	slowID, readerID := g.connID(t, 0), g.connID(t, 1)
	frame := wsproto.TextFrame([]byte(strings.Repeat("z", 100*1024)))
	got := make(chan struct{})
	go func() {
		for {
			if _, _, err := reader.ReadMessage(); err != nil {
				close(got)
				return
			}
			got <- struct{}{}
		}
	}()
	slowGone := -1
	for i := range 200 {
		if i > 0 {
			if _, ok := <-got; !ok {
				t.Fatalf("the reading client's connection ended after %d broadcasts", i)
			}
		}
		gone := g.PostFrame(context.Background(), []string{slowID, readerID}, frame)
		for _, id := range gone {
			if id == readerID {
				t.Fatalf("broadcast %d: the reading client is gone", i)
			}
			if slowGone < 0 {
				slowGone = i
			}
		}
	}
	if slowGone < 0 {
		t.Fatal("the client that never reads was never gone")
	}
	if code, reason := g.disconnectOf(t, slowID); code != 1008 || !strings.HasPrefix(reason, "Slow consumer") {
		t.Errorf("$disconnect of the slow client: %d %q", code, reason)
	}
	if _, ok := <-got; !ok {
		t.Error("the reading client did not get the last broadcast")
	}
	t.Logf("the slow client was gone from broadcast %d", slowGone)
}

// Broadcasts long after the last write: the socket's write deadline, set by
// an earlier write, has passed by then, and must not fail the next one.
func TestPostFrameAfterTheWriteDeadline(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{WriteTimeout: 100 * time.Millisecond}}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	for i := range 3 {
		time.Sleep(300 * time.Millisecond) // past 1.5 x WriteTimeout
		msg := fmt.Sprint("late ", i)
		if gone := g.PostFrame(context.Background(), []string{id}, wsproto.TextFrame([]byte(msg))); len(gone) != 0 {
			t.Fatalf("broadcast %d: gone", i)
		}
		if got := readText(t, c); got != msg {
			t.Fatalf("broadcast %d: got %q", i, got)
		}
	}
}
