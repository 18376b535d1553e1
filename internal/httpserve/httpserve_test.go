package httpserve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/httpserve"
	"github.com/switchboard-ws/switchboard/internal/localca"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// serve serves h with o on a loopback port and returns its address.
func serve(t *testing.T, h http.Handler, o httpserve.Options) (*httpserve.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = testutil.DiscardLogger()
	}
	srv := httpserve.New(ln, h, o)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}

// stage is a gateway whose $connect records the connection ids.
type stage struct {
	*gateway.Server
	mu  sync.Mutex
	ids []string
}

func newStage(t *testing.T, connect func()) *stage {
	t.Helper()
	st := &stage{}
	gw, err := gateway.New(gateway.Options{Stage: "dev", Logger: testutil.DiscardLogger(), Routes: map[string]gateway.Route{
		gateway.RouteConnect: {Integration: gateway.HandlerFunc(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if connect != nil {
				connect()
			}
			if ev.QueryStringParameters["refuse"] != "" {
				return events.APIGatewayProxyResponse{StatusCode: http.StatusForbidden}, nil
			}
			st.mu.Lock()
			st.ids = append(st.ids, ev.RequestContext.ConnectionID)
			st.mu.Unlock()
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	st.Server = gw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return st
}

func (st *stage) last() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ids[len(st.ids)-1]
}

func dialWS(addr, query string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	return d.Dial("ws://"+addr+"/dev"+query, nil)
}

// get sends one GET on c and reads the answer; c stays open (keep-alive).
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetDeadline(time.Time{})
	return resp
}

func dialTCP(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// closedByServer reports whether the server closed c within a generous
// bound (EOF or reset, not our own deadline).
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// At the maximum with every connection busy (WebSockets), the next one is
// answered 503 and closed; once one closes, a new one gets in.
func TestMaxConnectionsRefusesWhenNoneIdle(t *testing.T) {
	t.Parallel()
	st := newStage(t, nil)
	srv, addr := serve(t, st, httpserve.Options{MaxConnections: 3})
	var open []*websocket.Conn
	for i := range 3 {
		c, _, err := dialWS(addr, "")
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		open = append(open, c)
	}
	_, resp, err := dialWS(addr, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection 4 of at most 3: %v %v, want 503", resp, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != httpserve.RefusalBody || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("503 body %q (%v), header %v", body, err, resp.Header)
	}
	if srv.Listener().Refused() == 0 {
		t.Fatal("Refused() is 0")
	}
	open[0].Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		c, _, err := dialWS(addr, "")
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "a connection after one of three closed")
}

// At the maximum, the connection idle for longest (a keep-alive
// connection after a refused upgrade) is closed to let a new one in.
func TestIdleConnectionMakesRoom(t *testing.T) {
	t.Parallel()
	st := newStage(t, nil)
	srv, addr := serve(t, st, httpserve.Options{MaxConnections: 3})
	var idle []net.Conn
	for range 3 {
		c, br := dialTCP(t, addr)
		if resp := get(t, c, br, "/dev"); resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("GET /dev without upgrade: %d", resp.StatusCode)
		}
		idle = append(idle, c)
	}
	c, _, err := dialWS(addr, "")
	if err != nil {
		t.Fatalf("a WebSocket beside 3 idle connections, at most 3: %v", err)
	}
	c.Close()
	// One of the idle ones was closed (the least recently idle: which one
	// that is depends on when the server saw each turn idle).
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, c := range idle {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				return true
			}
		}
		return false
	}, "an idle connection closed to make room")
	if srv.Listener().Evicted() == 0 {
		t.Fatal("Evicted() is 0")
	}
}

// TLS and plain connections are counted alike through tlsmux, and one
// busy with a request (seen through *tls.Conn) is not taken for idle.
func TestTLSConnectionsCounted(t *testing.T) {
	t.Parallel()
	cfg, pool := testTLS(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	_, addr := serve(t, h, httpserve.Options{MaxConnections: 1, TLS: cfg})
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	io.WriteString(tc, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	c, br := dialTCP(t, addr)
	if resp := get(t, c, br, "/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("plain request beside a busy TLS one, at most 1: %d, want 503", resp.StatusCode)
	}
	close(release)
	tbr := bufio.NewReader(tc)
	if resp, err := http.ReadResponse(tbr, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the TLS request: %v %v", resp, err)
	}
	// Now idle, the TLS connection makes room for a new plain one.
	testutil.Eventually(t, 10*time.Second, func() bool {
		c, br := dialTCP(t, addr)
		return get(t, c, br, "/").StatusCode == 200
	}, "a plain request once the TLS connection is idle")
}

// A request body that trickles is cut at ReadTimeout.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "read")
	})
	_, addr := serve(t, h, httpserve.Options{ReadTimeout: 300 * time.Millisecond})
	c, _ := dialTCP(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nsome")
	if !closedByServer(c) {
		t.Fatal("a POST whose body never comes was not cut")
	}
}

// A keep-alive connection is closed after IdleTimeout, also after a
// refused upgrade.
func TestIdleKeepAliveClosed(t *testing.T) {
	t.Parallel()
	st := newStage(t, nil)
	_, addr := serve(t, st, httpserve.Options{IdleTimeout: 200 * time.Millisecond})
	c, br := dialTCP(t, addr)
	get(t, c, br, "/dev")
	if !closedByServer(c) {
		t.Fatal("an idle keep-alive connection was not closed")
	}
}

// WebSocket connections are not subject to the HTTP server's timeouts,
// and a handshake that takes longer than them is still answered, 101 or
// a refusal.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	st := newStage(t, func() { time.Sleep(3 * timeout) })
	_, addr := serve(t, st, httpserve.Options{ReadTimeout: timeout, WriteTimeout: timeout, IdleTimeout: timeout, ReadHeaderTimeout: timeout})
	_, resp, err := dialWS(addr, "?refuse=1")
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a refusal after a $connect longer than the write timeout: %v %v, want 403", resp, err)
	}
	c, _, err := dialWS(addr, "")
	if err != nil {
		t.Fatalf("a handshake longer than the HTTP timeouts: %v", err)
	}
	defer c.Close()
	time.Sleep(5 * timeout) // past every HTTP timeout
	if err := st.Post(context.Background(), st.last(), []byte("still here")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "still here" {
		t.Fatalf("read after the HTTP timeouts: %q %v", p, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"action":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Post(context.Background(), st.last(), []byte("again")); err != nil {
		t.Fatalf("post after the client wrote: %v", err)
	}
}

func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ca, _, err := localca.Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"http/1.1"}}, pool
}

func TestRaiseFileLimit(t *testing.T) {
	n, err := httpserve.RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		if m := httpserve.DefaultMaxConnections(); m <= 0 || uint64(m) >= n {
			t.Fatalf("DefaultMaxConnections %d with a limit of %d", m, n)
		}
	}
}
