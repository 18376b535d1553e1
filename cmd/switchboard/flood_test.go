package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// floodFileLimit is the descriptor limit `switchboard dev` runs under in
// TestIdleFloodDoesNotLockOut: the flood of 20,000 idle sockets
// against a limit of 20,000, scaled down so that the test's client and the
// server, one machine, hold it in a second.
const floodFileLimit = 512

// TestIdleFloodDoesNotLockOut (issue 12) runs `switchboard dev` with its
// defaults under a descriptor limit of floodFileLimit, opens more idle
// keep-alive sockets than that (each after one request: a refused
// upgrade, a GET /metrics) and a few POSTs whose body never comes, and
// then a new client still gets a WebSocket, and /metrics answers. Before
// issue 12 the idle sockets were held forever: the server ran out of
// descriptors and new clients waited in the accept queue until their own
// timeout.
func TestIdleFloodDoesNotLockOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})
	data := filepath.Join(dir, "data")
	// By hand, at the scale (the test process needs descriptors
	// for the sockets too):
	//   SWITCHBOARD_FLOOD_FD_LIMIT=20000 SWITCHBOARD_FLOOD_SOCKETS=19500 go test -run TestIdleFlood -v ./cmd/switchboard
	fdLimit, sockets := envInt(t, "SWITCHBOARD_FLOOD_FD_LIMIT", floodFileLimit), envInt(t, "SWITCHBOARD_FLOOD_SOCKETS", 3*floodFileLimit)
	wsURL := startLimited(t, bin, data, fdLimit)
	out, err := exec.Command(bin, "token", "--data", data, "--user", "alice", "--name", "Alice").Output() // after dev made the secret
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	u, _ := url.Parse(wsURL)
	addr := u.Host

	// POSTs whose body trickles: busy, not idle.
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /dev/@connections/x HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\nsome", addr)
	}
	// Idle keep-alive sockets, each after one answered request. Once the
	// server stops answering (it ran out of descriptors), a few more
	// attempts and the flood stops: the server is locked up.
	var (
		answered, unanswered atomic.Int64
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		held                 []net.Conn
	)
	next := atomic.Int64{}
	flood := int64(sockets)
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= flood && unanswered.Load() < 16 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					unanswered.Add(1)
					continue
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				path := "/dev"
				if next.Load()%2 == 0 {
					path = "/metrics"
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path, addr)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					unanswered.Add(1) // not answered: held in the backlog, or closed
					continue
				}
				io.Copy(io.Discard, resp.Body)
				c.SetDeadline(time.Time{})
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	t.Logf("flood: %d sockets answered once and kept open, %d not answered, in %v", answered.Load(), unanswered.Load(), time.Since(start).Round(time.Millisecond))

	// A new client (at another address: the flood's has spent its
	// handshake budget) connects, within a generous bound.
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, NetDialContext: nd.DialContext}
	start = time.Now()
	c, resp, err := d.Dial(wsURL+"?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("a new client beside %d idle sockets (descriptor limit %d): %v (status %d)", answered.Load(), fdLimit, err, status)
	}
	c.Close()
	t.Logf("a new client connected in %v", time.Since(start).Round(time.Microsecond))
	hc := &http.Client{Timeout: 15 * time.Second}
	mresp, err := hc.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics after the flood: %v", err)
	}
	mresp.Body.Close()
	if mresp.StatusCode != 200 {
		t.Fatalf("GET /metrics after the flood: %d", mresp.StatusCode)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// startLimited starts `switchboard dev` under a descriptor limit (soft and
// hard) and returns its WebSocket URL; it is killed at the end of the test.
func startLimited(t *testing.T, bin, data string, limit int) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" dev --addr 127.0.0.1:0 --data "$1" --log-level warn`, limit), bin, data)
	url, _ := runDev(t, cmd, data)
	return url
}
