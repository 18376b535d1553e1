package gateway_test

import (
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// Frames a client sends in the same packet as its handshake (the server
// has read them along with the request) reach the routes, in order, and
// a frame split between that packet and the next one arrives whole.
func TestFramesRightBehindTheHandshake(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$default")
	u, err := url.Parse(g.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	first := wsproto.AppendMaskedFrame(nil, wsproto.OpText, []byte("first"), [4]byte{1, 2, 3, 4})
	second := wsproto.AppendMaskedFrame(nil, wsproto.OpText, []byte("second, split"), [4]byte{5, 6, 7, 8})
	req := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", g.stage, u.Host)
	packet := append([]byte(req), first...)
	packet = append(packet, second[:5]...)
	if _, err := nc.Write(packet); err != nil {
		t.Fatal(err)
	}
	evs := g.events.waitFor(t, "$default", 1)
	if evs[0].Body != "first" {
		t.Fatalf("first message: got %q", evs[0].Body)
	}
	if _, err := nc.Write(second[5:]); err != nil {
		t.Fatal(err)
	}
	evs = g.events.waitFor(t, "$default", 2)
	if evs[1].Body != "second, split" {
		t.Fatalf("second message: got %q", evs[1].Body)
	}
}
