package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
)

// scrape GETs the metrics as a loopback client and parses the samples.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+gateway.MetricsPath, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		if !ok || err != nil {
			t.Fatalf("not a Prometheus sample: %q", line)
		}
		out[name] = v
	}
	return out
}

func TestMetricsCountTraffic(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$default": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo:" + ev.Body}, nil
		}), RouteResponse: true},
	}}, "$connect", "$disconnect")
	h := g.WithMetrics()
	m := scrape(t, h)
	for _, name := range []string{"switchboard_connections_open", "switchboard_connections_total", "switchboard_messages_received_total"} {
		if v, ok := m[name]; !ok || v != 0 {
			t.Errorf("%s before any traffic = %v (present %v), want 0", name, v, ok)
		}
	}

	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	send(t, c, "hello")
	if got := readText(t, c); got != "echo:hello" {
		t.Fatalf("reply %q", got)
	}
	mgmt := g.management("", "")
	if _, err := mgmt.PostToConnection(context.Background(), postInput(id, "posted")); err != nil {
		t.Fatal(err)
	}
	readText(t, c)
	var gone *types.GoneException
	if _, err := mgmt.PostToConnection(context.Background(), postInput("AAAAAAAAAAAAAAA=", "x")); !errors.As(err, &gone) {
		t.Fatalf("post to a missing id: %v", err)
	}
	m = scrape(t, h)
	for name, want := range map[string]float64{
		"switchboard_connections_open":            1,
		"switchboard_connections_total":           1,
		"switchboard_messages_received_total":     1,
		"switchboard_received_bytes_total":        5,
		"switchboard_messages_sent_total":         2, // the route response and the post
		"switchboard_management_posts_total":      2,
		"switchboard_management_posts_gone_total": 1,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	// Two frames of 2-byte headers plus payloads, and the 101 is not counted.
	if got, want := m["switchboard_sent_bytes_total"], float64(2+len("echo:hello")+2+len("posted")); got != want {
		t.Errorf("switchboard_sent_bytes_total = %v, want %v", got, want)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "process_resident_memory_bytes", "process_resident_anon_memory_bytes"} {
		if m[name] <= 0 {
			t.Errorf("%s = %v, want > 0", name, m[name])
		}
	}

	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	g.events.waitFor(t, "$disconnect", 1)
	c2 := g.dial(t, "", nil)
	_ = c2
	id2 := g.connID(t, 1)
	if err := g.Disconnect(context.Background(), id2); err != nil {
		t.Fatal(err)
	}
	g.events.waitFor(t, "$disconnect", 2)
	m = scrape(t, h)
	for name, want := range map[string]float64{
		"switchboard_connections_open":                                 0,
		"switchboard_connections_total":                                2,
		`switchboard_connections_closed_total{cause="client"}`:         1,
		`switchboard_connections_closed_total{cause="deleted"}`:        1,
		`switchboard_connections_closed_total{cause="slow_consumer"}`:  0,
		`switchboard_connections_closed_total{cause="protocol_error"}`: 0,
		`switchboard_connections_closed_total{cause="idle_timeout"}`:   0,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	// Other paths still reach the gateway.
	if _, _, err := g.tryDial("", nil); err != nil {
		t.Errorf("dial through WithMetrics' server: %v", err)
	}
}

func TestMetricsCountSlowConsumers(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{SendQueueBytes: 256 * 1024}}, "$connect", "$disconnect")
	g.dial(t, "", nil) // never reads
	id := g.connID(t, 0)
	frame := strings.Repeat("z", 100*1024)
	for i := 0; i < 2000; i++ {
		if err := g.Post(context.Background(), id, []byte(frame)); err != nil {
			break
		}
	}
	g.events.waitFor(t, "$disconnect", 1)
	if m := scrape(t, g.MetricsHandler()); m[`switchboard_connections_closed_total{cause="slow_consumer"}`] != 1 {
		t.Errorf("slow consumer closes = %v, want 1", m[`switchboard_connections_closed_total{cause="slow_consumer"}`])
	}
}

// The metrics are refused as the management API is without credentials:
// to clients that are not loopback, and to requests through a proxy.
func TestMetricsOnlyForLocalClients(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{})
	h := g.WithMetrics()
	for _, tc := range []struct {
		name   string
		remote string
		header string
	}{
		{"remote address", "192.0.2.7:5000", ""},
		{"Forwarded", "127.0.0.1:5000", "Forwarded"},
		{"X-Forwarded-For", "127.0.0.1:5000", "X-Forwarded-For"},
		{"X-Forwarded-Host", "[::1]:5000", "X-Forwarded-Host"},
		{"X-Real-IP", "127.0.0.1:5000", "X-Real-IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, gateway.MetricsPath, nil)
		r.RemoteAddr = tc.remote
		if tc.header != "" {
			r.Header.Set(tc.header, "198.51.100.1")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "switchboard_") {
			t.Errorf("%s: %d\n%s", tc.name, w.Code, w.Body)
		}
	}
	// Over a real loopback connection.
	resp, err := http.Get(g.http.URL + gateway.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		// g.http serves the gateway alone, without WithMetrics.
		t.Logf("GET /metrics on the bare gateway: %d", resp.StatusCode)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err = http.Get(srv.URL + gateway.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics from loopback: %d", resp.StatusCode)
	}
	r := httptest.NewRequest(http.MethodPost, "http://localhost:8080"+gateway.MetricsPath, nil)
	r.RemoteAddr = "127.0.0.1:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", w.Code)
	}
}
