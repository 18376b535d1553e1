package baseline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

func start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr, query string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/dev?"+query, nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

func call(t *testing.T, c *websocket.Conn, action string, data any) protocol.Reply {
	t.Helper()
	if err := c.WriteJSON(map[string]any{"action": action, "data": data, "requestId": action}); err != nil {
		t.Fatal(err)
	}
	for {
		var r protocol.Reply
		if err := c.ReadJSON(&r); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if r.RequestID == action {
			return r
		}
	}
}

// A real client (gorilla) completes the handshake, with a token longer than
// the handshake buffer in its URL, and a message reaches every member.
func TestBroadcastReachesMembers(t *testing.T) {
	t.Parallel()
	addr := start(t)
	token := "token=" + strings.Repeat("x", 3*handshakeBufferSize)
	a, b := dial(t, addr, token), dial(t, addr, "")
	for _, c := range []*websocket.Conn{a, b} {
		if r := call(t, c, protocol.ActionJoinRoom, map[string]string{"roomId": "r"}); r.Type != protocol.ReplySuccess {
			t.Fatalf("join: %+v", r)
		}
	}
	if r := call(t, a, protocol.ActionSendMessage, map[string]string{"roomId": "r", "content": "hello"}); r.Type != protocol.ReplySuccess {
		t.Fatalf("send: %+v", r)
	}
	var bc struct {
		Type string           `json:"type"`
		Data protocol.Message `json:"data"`
	}
	if err := b.ReadJSON(&bc); err != nil {
		t.Fatal(err)
	}
	if bc.Type != protocol.BroadcastMessage || bc.Data.Content != "hello" {
		t.Fatalf("broadcast: %+v", bc)
	}
}

// A request that is not a WebSocket upgrade gets 400 and the connection is
// closed.
func TestNotAnUpgradeIsRefused(t *testing.T) {
	t.Parallel()
	addr := start(t)
	for name, req := range map[string]string{
		"plain GET":   "GET /dev HTTP/1.1\r\nHost: x\r\n\r\n",
		"no key":      "GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"long key":    "GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"short key":   "GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n\r\n",
		"version 8":   "GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"POST":        "POST /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"huge header": "GET /dev HTTP/1.1\r\nX: " + strings.Repeat("y", maxHandshakeBytes) + "\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			wrote := make(chan struct{})
			go func() { // the huge request may not be read to its end
				defer close(wrote)
				fmt.Fprint(nc, req)
			}()
			defer func() { nc.Close(); <-wrote }()
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
		})
	}
}

// A client that sends its first frame in the same write as its request
// still has that frame read.
func TestFrameRightAfterTheRequest(t *testing.T) {
	t.Parallel()
	addr := start(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := json.Marshal(map[string]any{"action": protocol.ActionHeartbeat, "requestId": "hb"})
	frame := []byte("GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	frame = appendMasked(frame, req)
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("status %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	var h [2]byte
	if _, err := br.Read(h[:1]); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x81 {
		t.Fatalf("first byte %#x, want a text frame", h[0])
	}
}

func appendMasked(dst, payload []byte) []byte {
	return wsproto.AppendMaskedFrame(dst, wsproto.OpText, payload, [4]byte{1, 2, 3, 4})
}
