//go:build unix

package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// dialSmallBuffer completes a WebSocket handshake from a client socket
// whose receive buffer is small, so that a client that stops reading
// fills up after a few kilobytes.
func (g *testGateway) dialSmallBuffer(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	addr := strings.TrimPrefix(g.http.URL, "http://")
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", g.stage, addr)
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	nc.SetReadDeadline(time.Time{})
	return nc, br
}

// waitDisconnect waits, generously, for the $disconnect of id.
func (g *testGateway) waitDisconnect(t *testing.T, id string) (int64, string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() bool {
		for _, ev := range g.events.of("$disconnect") {
			if ev.RequestContext.ConnectionID == id {
				return true
			}
		}
		return false
	}, "$disconnect of %s", id)
	return g.disconnectOf(t, id)
}

// A client that stops reading is closed as a slow consumer once more than
// SendQueueBytes would be queued for it. Its 1008 cannot get past the frame
// stuck in the socket, so the socket is reset: the gateway frees it
// ($disconnect, metrics), and the kernel drops what the client never read
// instead of holding it in a FIN-WAIT socket. The client, reading at last,
// finds what its own small buffer held, then the reset, not the rest.
func TestSlowConsumerSocketIsReset(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxMessageBytes: 16 << 10, SendQueueBytes: 64 << 10, WriteTimeout: 500 * time.Millisecond}}, "$connect", "$disconnect")
	nc, br := g.dialSmallBuffer(t)
	id := g.connID(t, 0)
	frame := []byte(strings.Repeat("s", 16<<10))
	posted := 0
	for ; posted < 100000; posted++ {
		if err := g.Post(context.Background(), id, frame); err != nil {
			if !errors.Is(err, gateway.ErrGone) {
				t.Fatalf("post: %v", err)
			}
			break
		}
	}
	code, reason := g.waitDisconnect(t, id)
	if code != 1008 || !strings.Contains(reason, "Slow consumer") {
		t.Errorf("$disconnect %d %q, want 1008 Slow consumer", code, reason)
	}
	m := scrape(t, g.MetricsHandler())
	if m[`switchboard_connections_closed_total{cause="slow_consumer"}`] != 1 || m["switchboard_connections_open"] != 0 {
		t.Errorf("metrics: slow_consumer %v, open %v", m[`switchboard_connections_closed_total{cause="slow_consumer"}`], m["switchboard_connections_open"])
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, br)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the client read %d bytes (of %d posted) then %v, want a reset (ECONNRESET)", n, posted*len(frame), err)
	}
}

// A client that stopped reading, with less than SendQueueBytes queued:
// once the kernel's buffers are full the write under way times out after
// WriteTimeout, and the socket is reset.
func TestStuckWriteResetsTheSocket(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{WriteTimeout: 300 * time.Millisecond, SendQueueBytes: 256 << 20}}, "$connect", "$disconnect")
	nc, br := g.dialSmallBuffer(t)
	id := g.connID(t, 0)
	chunk := []byte(strings.Repeat("w", 100<<10))
	// Until the kernel's buffers are full and a write blocks (the send
	// buffer grows to a few MiB), then the deadline runs.
	for range 2000 {
		if err := g.Post(context.Background(), id, chunk); err != nil {
			break
		}
	}
	if code, _ := g.waitDisconnect(t, id); code != 1006 {
		t.Errorf("$disconnect code %d, want 1006", code)
	}
	if m := scrape(t, g.MetricsHandler()); m[`switchboard_connections_closed_total{cause="write_failed"}`] != 1 {
		t.Errorf("write_failed closes %v, want 1", m[`switchboard_connections_closed_total{cause="write_failed"}`])
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := io.Copy(io.Discard, br); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the client read %d bytes then %v, want a reset (ECONNRESET)", n, err)
	}
}
