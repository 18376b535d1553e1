package gateway_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// dialerFrom is a WebSocket dialer whose connections come from the
// loopback address ip (all of 127.0.0.0/8 is loopback on Linux).
func dialerFrom(ip string) *websocket.Dialer {
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second}
}

// dialStatus dials and returns the connection (nil if refused) and the
// HTTP status of the handshake's answer.
func dialStatus(t *testing.T, d *websocket.Dialer, url string) (*websocket.Conn, *http.Response) {
	t.Helper()
	c, resp, err := d.Dial(url, nil)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		return c, resp
	}
	if resp == nil {
		t.Fatalf("dial %s: %v (no HTTP answer)", url, err)
	}
	return nil, resp
}

// hammer runs workers that open handshakes from ip in a loop until stop is
// closed, and returns how many were answered with each status.
func hammer(t *testing.T, ip, url string, workers int, stop <-chan struct{}) func() map[int]int {
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	d := dialerFrom(ip)
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, resp, err := d.Dial(url, nil)
				if err == nil {
					c.Close()
				}
				mu.Lock()
				if resp != nil {
					counts[resp.StatusCode]++
				} else {
					counts[0]++
				}
				mu.Unlock()
			}
		})
	}
	return func() map[int]int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return counts
	}
}

// One source hammering handshakes that the authorizer refuses (401) does
// not make a legitimate client at another address fail with 429: the
// hammering source runs out of its own budget (SourceConnectRate), which
// it spends without spending the global one. On the code before issue 12
// the hammer emptied the one global bucket and the legitimate client's
// connects failed with 429.
func TestHandshakeFloodBesideLegitimateClient(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g := start(t, gateway.Options{
		Authorizer: &gateway.AuthorizerConfig{Authorizer: allowAuthorizer(&calls), IdentitySources: []string{"route.request.querystring.token"}},
		Limits:     gateway.Limits{ConnectRate: 40, SourceConnectRate: 5},
	}, "$connect")
	stop := make(chan struct{})
	counts := hammer(t, "127.0.0.1", g.wsURL+"?token=bad", 4, stop)
	// The hammer is under way: its source is over its budget.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, resp := dialStatus(t, dialerFrom("127.0.0.1"), g.wsURL+"?token=bad")
		return resp.StatusCode == http.StatusTooManyRequests
	}, "the hammering source is never refused with 429")
	legit := dialerFrom("127.0.0.2")
	for i := range 5 {
		c, resp := dialStatus(t, legit, g.wsURL+"?token=good")
		if c == nil {
			close(stop)
			t.Fatalf("legitimate connect %d beside the hammer: %d, want 101 (hammer so far: %v)", i, resp.StatusCode, counts())
		}
		c.Close()
	}
	close(stop)
	got := counts()
	if got[http.StatusUnauthorized] == 0 || got[http.StatusTooManyRequests] == 0 {
		t.Fatalf("hammer answers %v: want both 401 and 429", got)
	}
}

// Handshakes refused because the token is missing (401 before the
// authorizer runs) do not spend the global connect rate: a client at the
// same address with a token still connects. Before issue 12 the global
// bucket was spent first.
func TestMissingTokenDoesNotSpendConnectRate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g := start(t, gateway.Options{
		Authorizer: &gateway.AuthorizerConfig{Authorizer: allowAuthorizer(&calls), IdentitySources: []string{"route.request.querystring.token"}},
		Limits:     gateway.Limits{ConnectRate: 10, SourceConnectRate: -1},
	}, "$connect")
	stop := make(chan struct{})
	counts := hammer(t, "127.0.0.1", g.wsURL, 4, stop)
	// The hammer runs well past the bucket's size before the client with
	// a token connects.
	for i := 0; ; i++ {
		_, resp := dialStatus(t, dialerFrom("127.0.0.1"), g.wsURL)
		if resp.StatusCode != http.StatusUnauthorized {
			close(stop)
			t.Fatalf("a handshake without token: %d, want 401", resp.StatusCode)
		}
		if i >= 50 {
			break
		}
	}
	for i := range 5 {
		c, resp := dialStatus(t, dialerFrom("127.0.0.1"), g.wsURL+"?token=good")
		if c == nil {
			close(stop)
			t.Fatalf("connect %d with a token beside handshakes without: %d, want 101", i, resp.StatusCode)
		}
		c.Close()
	}
	close(stop)
	if got := counts(); got[http.StatusUnauthorized] < 20 || got[http.StatusTooManyRequests] != 0 {
		t.Fatalf("answers to handshakes without token %v: want only 401s, at least 20", got)
	}
	if calls.Load() != 5 {
		t.Fatalf("the authorizer ran %d times, want 5 (only for the handshakes with a token)", calls.Load())
	}
}

// A source over SourceConnectRate gets 429 with a Retry-After header, and
// no $connect runs for it.
func TestSourceConnectRateRetryAfter(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{SourceConnectRate: 0.5}}, "$connect")
	d := dialerFrom("127.0.0.1")
	if c, resp := dialStatus(t, d, g.wsURL); c == nil {
		t.Fatalf("first connect: %d", resp.StatusCode)
	}
	_, resp := dialStatus(t, d, g.wsURL)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second connect at once: %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After %q: want 1 or 2 (seconds)", resp.Header.Get("Retry-After"))
	}
	if n := len(g.events.of("$connect")); n != 1 {
		t.Fatalf("$connect ran %d times, want 1", n)
	}
	// Another source has its own budget.
	if c, resp := dialStatus(t, dialerFrom("127.0.0.2"), g.wsURL); c == nil {
		t.Fatalf("another source: %d", resp.StatusCode)
	}
}

// MaxSourceConnections bounds the open connections of one address: the
// next gets 429, another address still connects, and once one closes the
// address connects again.
func TestMaxSourceConnections(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxSourceConnections: 3}}, "$connect", "$disconnect")
	d := dialerFrom("127.0.0.1")
	var open []*websocket.Conn
	for i := range 3 {
		c, resp := dialStatus(t, d, g.wsURL)
		if c == nil {
			t.Fatalf("connect %d: %d", i, resp.StatusCode)
		}
		open = append(open, c)
	}
	c, resp := dialStatus(t, d, g.wsURL)
	if c != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a fourth connection from the same address: %v, want 429 with Retry-After", resp.Status)
	}
	if c, resp := dialStatus(t, dialerFrom("127.0.0.2"), g.wsURL); c == nil {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	open[0].Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		c, _ := dialStatus(t, d, g.wsURL)
		return c != nil
	}, "after one closed, the address never connected again")
	// Connections closed by the server free their place too.
	ids := g.events.waitFor(t, "$connect", 5)
	if err := g.Disconnect(context.Background(), ids[1].RequestContext.ConnectionID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		c, _ := dialStatus(t, d, g.wsURL)
		return c != nil
	}, "after the server closed one, the address never connected again")
}
