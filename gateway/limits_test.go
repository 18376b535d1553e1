package gateway_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// rawFrame is a masked client frame; fin=false leaves the message open.
func rawFrame(op wsproto.Opcode, fin bool, payload []byte) []byte {
	f := wsproto.AppendMaskedFrame(nil, op, payload, [4]byte{1, 2, 3, 4})
	if !fin {
		f[0] &^= 0x80
	}
	return f
}

func TestProtocolViolationsCloseWithTheRightCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		frames [][]byte
		code   int
	}{
		{"binary frame", [][]byte{rawFrame(wsproto.OpBinary, true, []byte{1, 2, 3})}, 1003},
		{"frame over 32 KB", [][]byte{rawFrame(wsproto.OpText, true, []byte(strings.Repeat("a", 32*1024+1)))}, 1009},
		{"message over 128 KB in fragments", func() [][]byte {
			var fs [][]byte
			chunk := []byte(strings.Repeat("b", 32*1024))
			fs = append(fs, rawFrame(wsproto.OpText, false, chunk))
			for i := 0; i < 4; i++ {
				fs = append(fs, rawFrame(wsproto.OpContinuation, i == 3, chunk))
			}
			return fs
		}(), 1009},
		{"invalid UTF-8", [][]byte{rawFrame(wsproto.OpText, true, []byte{'o', 0xff, 'k'})}, 1007},
		{"unmasked frame", [][]byte{wsproto.TextFrame([]byte("hi"))}, 1002},
		{"reserved bits", [][]byte{func() []byte { f := rawFrame(wsproto.OpText, true, []byte("hi")); f[0] |= 0x40; return f }()}, 1002},
		{"reserved opcode", [][]byte{rawFrame(wsproto.Opcode(0x3), true, []byte("hi"))}, 1002},
		{"continuation without start", [][]byte{rawFrame(wsproto.OpContinuation, true, []byte("hi"))}, 1002},
		{"bad close code", [][]byte{rawFrame(wsproto.OpClose, true, []byte{0x03, 0xed})}, 1002}, // 1005 may not be sent
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := start(t, gateway.Options{}, "$connect", "$disconnect", "$default")
			bystander := g.dial(t, "", nil)
			c := g.dial(t, "", nil)
			id := g.connID(t, 1)
			for _, f := range tc.frames {
				if _, err := c.UnderlyingConn().Write(f); err != nil {
					break // the gateway may close before the last fragment
				}
			}
			if ce := readClose(t, c); ce.Code != tc.code {
				t.Fatalf("close %d %q, want %d", ce.Code, ce.Text, tc.code)
			}
			if code, _ := g.disconnectOf(t, id); code != int64(tc.code) {
				t.Fatalf("$disconnect code %d, want %d", code, tc.code)
			}
			if n := len(g.events.of("$default")); n != 0 {
				t.Fatalf("the bad message reached $default")
			}
			// The gateway keeps serving everyone else.
			send(t, bystander, "still fine")
			if ev := g.events.waitFor(t, "$default", 1)[0]; ev.Body != "still fine" {
				t.Fatalf("bystander body %q", ev.Body)
			}
		})
	}
}

func TestFragmentedMessageUpToTheLimit(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$default")
	c := g.dial(t, "", nil)
	chunk := strings.Repeat("c", 32*1024)
	conn := c.UnderlyingConn()
	conn.Write(rawFrame(wsproto.OpText, false, []byte(chunk)))
	conn.Write(rawFrame(wsproto.OpPing, true, []byte("interleaved"))) // control frames may come between fragments
	conn.Write(rawFrame(wsproto.OpContinuation, false, []byte(chunk)))
	conn.Write(rawFrame(wsproto.OpContinuation, false, []byte(chunk)))
	conn.Write(rawFrame(wsproto.OpContinuation, true, []byte(chunk)))
	ev := g.events.waitFor(t, "$default", 1)[0]
	if len(ev.Body) != 128*1024 || ev.Body != strings.Repeat("c", 128*1024) {
		t.Fatalf("body of %d bytes", len(ev.Body))
	}
	// And a normal client sending a large message (gorilla fragments it).
	big := strings.Repeat("d", 100*1024)
	send(t, c, big)
	if ev := g.events.waitFor(t, "$default", 2)[1]; ev.Body != big {
		t.Fatalf("body of %d bytes", len(ev.Body))
	}
}

func TestPingIsAnsweredWithPong(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{})
	c := g.dial(t, "", nil)
	pong := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pong <- data; return nil })
	go c.ReadMessage()
	c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Fatalf("pong %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

func TestSlowConsumerIsClosed(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{SendQueueBytes: 256 * 1024}}, "$connect", "$disconnect")
	slow := g.dial(t, "", nil) // never reads
	_ = slow
	id := g.connID(t, 0)
	mgmt := g.management("", "")
	payload := strings.Repeat("z", 100*1024)
	var gone *types.GoneException
	var err error
	posted := 0
	for ; posted < 2000; posted++ {
		if _, err = mgmt.PostToConnection(context.Background(), postInput(id, payload)); err != nil {
			break
		}
	}
	if !errors.As(err, &gone) {
		t.Fatalf("after %d posts of 100 KB to a client that never reads: %v, want GoneException", posted, err)
	}
	code, reason := g.disconnectOf(t, id)
	if code != 1008 || !strings.HasPrefix(reason, "Slow consumer") {
		t.Fatalf("$disconnect %d %q", code, reason)
	}
	t.Logf("closed after %d posts (%d MB), the rest sat in kernel buffers", posted, posted/10)
}

// A client that breaks a limit while it is still sending gets the close
// frame and then a clean end of the TCP connection: the gateway reads and
// drops what the client still sends until the client's close frame. Closing
// the socket with the client's data unread would make the kernel reset the
// connection, which can destroy the close frame before the client reads it.
func TestLimitCloseWaitsForTheClientsClose(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect", "$disconnect")
	nc, br := g.rawDial(t)
	id := g.connID(t, 0)
	big := rawFrame(wsproto.OpText, true, make([]byte, 1<<20)) // over the 32 KB frame limit
	wrote := make(chan error, 1)
	go func() { _, err := nc.Write(big); wrote <- err }()

	nc.SetDeadline(time.Now().Add(5 * time.Second))
	op, payload, err := readServerFrame(br)
	if err != nil || op != wsproto.OpClose || closeCode(payload) != 1009 {
		t.Fatalf("got op %v payload %q err %v, want a 1009 close frame", op, payload, err)
	}
	// The gateway drops the rest of the frame instead of resetting.
	if err := <-wrote; err != nil {
		t.Fatalf("sending the rest of the frame after the close: %v", err)
	}
	if _, err := nc.Write(rawFrame(wsproto.OpClose, true, wsproto.ClosePayload(1009, ""))); err != nil {
		t.Fatalf("sending the close frame: %v", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the closing handshake: %v, want EOF (the gateway closes the TCP connection)", err)
	}
	if code, _ := g.disconnectOf(t, id); code != 1009 {
		t.Fatalf("$disconnect code %d, want 1009", code)
	}
}

// The inbound queue is bounded in bytes as well as in messages: with the
// handler busy, the gateway stops reading once InboundQueueBytes are
// waiting, so a client cannot make it hold InboundQueue x MaxMessageBytes.
// What shows it from outside: a ping sent behind the messages that do not
// fit is answered only after the handler has made room.
func TestInboundQueueIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var bodies []string
	g := start(t, gateway.Options{
		Limits: gateway.Limits{InboundQueueBytes: 64 << 10},
		Routes: map[string]gateway.Route{
			"$default": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				mu.Lock()
				bodies = append(bodies, ev.Body[:1])
				first := len(bodies) == 1
				mu.Unlock()
				if first {
					close(started)
					<-release
				}
				return events.APIGatewayProxyResponse{}, nil
			})},
		},
	})
	c := g.dial(t, "", nil)
	send(t, c, "0")
	<-started // the handler holds message 0; the inbox is empty
	// Four 16 KiB messages fill the 64 KiB inbox; the fifth does not fit.
	for i := 1; i <= 5; i++ {
		send(t, c, string(rune('0'+i))+strings.Repeat("x", 16<<10-1))
	}
	pong := make(chan struct{})
	c.SetPongHandler(func(string) error { close(pong); return nil })
	go c.ReadMessage()
	if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pong:
		t.Fatal("the gateway read past the fifth message while 64 KiB were waiting for the handler")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-pong:
	case <-time.After(5 * time.Second):
		t.Fatal("no pong after the handler made room")
	}
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 6 }, "6 messages dispatched")
	if got := strings.Join(bodies, ""); got != "012345" {
		t.Fatalf("messages dispatched as %q, want 012345", got)
	}

	// A message larger than InboundQueueBytes still goes through, alone.
	big := strings.Repeat("b", 100<<10)
	send(t, c, big)
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 7 }, "the large message dispatched")
}

// A client that stops reading is dropped once a write has been blocked for
// WriteTimeout (at most 1.5 x WriteTimeout: the deadline is not moved on
// every write).
func TestStuckWriteDropsTheConnection(t *testing.T) {
	t.Parallel()
	const writeTimeout = 300 * time.Millisecond
	g := start(t, gateway.Options{Limits: gateway.Limits{WriteTimeout: writeTimeout, SendQueueBytes: 64 << 20}}, "$connect", "$disconnect")
	g.dial(t, "", nil) // never reads
	id := g.connID(t, 0)
	chunk := make([]byte, 100<<10)
	for i := range chunk {
		chunk[i] = 'w'
	}
	// Fill the socket buffers until a write blocks; then the deadline runs.
	for range 300 {
		if err := g.Post(context.Background(), id, chunk); err != nil {
			break
		}
	}
	code, _ := g.disconnectOf(t, id)
	if code != 1006 {
		t.Fatalf("$disconnect code %d, want 1006", code)
	}
}

// The write deadline moves with the writes: a client that keeps reading is
// never dropped, however long it has been connected.
func TestWriteDeadlineFollowsActivity(t *testing.T) {
	t.Parallel()
	const writeTimeout = 200 * time.Millisecond
	g := start(t, gateway.Options{Limits: gateway.Limits{WriteTimeout: writeTimeout}}, "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	tick := time.NewTicker(writeTimeout / 5)
	defer tick.Stop()
	for i := range 30 { // 6 x WriteTimeout
		<-tick.C
		if err := g.Post(context.Background(), id, []byte("tick")); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		if got := readText(t, c); got != "tick" {
			t.Fatalf("got %q", got)
		}
	}
	if n := len(g.events.of("$disconnect")); n != 0 {
		t.Fatalf("an active connection was dropped")
	}
}
