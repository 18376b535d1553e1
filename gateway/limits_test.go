package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/wsproto"
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
