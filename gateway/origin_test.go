package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/gateway"
)

// forbidden checks a refusal of the guard: 403, ForbiddenException and a
// JSON message that says why.
func forbidden(t *testing.T, what string, resp *http.Response, why string) {
	t.Helper()
	defer resp.Body.Close()
	var body struct {
		Message string `json:"message"`
	}
	err := json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusForbidden || err != nil || !strings.Contains(body.Message, why) {
		t.Errorf("%s: %d %q (%v), want 403 with a message about %q", what, resp.StatusCode, body.Message, err, why)
	}
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A web page can send "simple" cross-origin requests without a CORS
// preflight: text/plain, form and multipart POSTs. None reaches a
// connection through the management API or the batch extension; the SDK
// (no Origin) and same-origin requests still do.
func TestManagementRefusesCrossOriginPosts(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	post := g.http.URL + "/dev/@connections/" + url.PathEscape(id)

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("x", "from a multipart form")
	mw.Close()
	for _, tc := range []struct {
		name, contentType, body string
		header                  http.Header
		why                     string
	}{
		{"text/plain", "text/plain;charset=UTF-8", "from text/plain", http.Header{"Origin": {"http://evil.example"}}, "cross-origin"},
		{"form", "application/x-www-form-urlencoded", "x=from+a+form", http.Header{"Origin": {"http://evil.example"}}, "cross-origin"},
		{"multipart", mw.FormDataContentType(), mp.String(), http.Header{"Origin": {"http://evil.example"}}, "cross-origin"},
		{"Origin null", "text/plain", "from a sandboxed frame", http.Header{"Origin": {"null"}}, "cross-origin"},
		{"other port of localhost", "text/plain", "from localhost:3000", http.Header{"Origin": {"http://localhost:3000"}}, "cross-origin"},
		{"cross-site without Origin", "text/plain", "from a cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "cross-site"},
	} {
		req, _ := http.NewRequest(http.MethodPost, post, strings.NewReader(tc.body))
		req.Header = tc.header
		req.Header.Set("Content-Type", tc.contentType)
		forbidden(t, "POST @connections, "+tc.name, do(t, req), tc.why)

		batch, _ := json.Marshal(map[string]any{"connectionIds": []string{id}, "data": tc.body})
		req, _ = http.NewRequest(http.MethodPost, g.http.URL+"/dev"+gateway.BatchPath, bytes.NewReader(batch))
		req.Header = tc.header.Clone()
		req.Header.Set("Content-Type", tc.contentType)
		forbidden(t, "POST batch, "+tc.name, do(t, req), tc.why)
	}
	// Nor may a page read a connection's details or close it.
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		req, _ := http.NewRequest(m, post, nil)
		req.Header.Set("Origin", "https://evil.example")
		forbidden(t, m+" @connections cross-origin", do(t, req), "cross-origin")
	}

	// The SDK sends no Origin: delivered, and first: nothing refused above
	// reached the connection.
	if _, err := g.management("", "").PostToConnection(context.Background(), postInput(id, "from the SDK")); err != nil {
		t.Fatalf("SDK post: %v", err)
	}
	if got := readText(t, c); got != "from the SDK" {
		t.Fatalf("the connection received %q first, want the SDK's post", got)
	}
	// A page of the gateway's own origin may post.
	req, _ := http.NewRequest(http.MethodPost, post, strings.NewReader("same origin"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", g.http.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp := do(t, req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("same-origin post: %d", resp.StatusCode)
	}
	if got := readText(t, c); got != "same origin" {
		t.Fatalf("received %q", got)
	}
}

// DNS rebinding: a page whose own host name now resolves to 127.0.0.1 is
// same-origin with itself, but its requests name its host. The management
// API, the batch extension and /metrics refuse them.
func TestControlEndpointsRefuseForeignHost(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	g.dial(t, "", nil)
	id := g.connID(t, 0)
	srv := httptest.NewServer(g.WithMetrics())
	t.Cleanup(srv.Close)
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")

	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/dev/@connections/" + url.PathEscape(id), "rebound"},
		{http.MethodGet, "/dev/@connections/" + url.PathEscape(id), ""},
		{http.MethodPost, "/dev" + gateway.BatchPath, `{"connectionIds":["` + id + `"],"data":"rebound"}`},
		{http.MethodGet, gateway.MetricsPath, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.Host = "evil.example:" + port
		req.Header.Set("Origin", "http://evil.example:"+port) // its own origin
		forbidden(t, tc.method+" "+tc.path+" with Host evil.example", do(t, req), "evil.example")
	}
	// The machine's own names are served.
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]", "app.localhost", "local.execute-api.us-east-1.amazonaws.com"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+gateway.MetricsPath, nil)
		req.Host = host + ":" + port
		resp := do(t, req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /metrics with Host %s: %d", req.Host, resp.StatusCode)
		}
	}
}

// The loopback-only rule (no credentials) refuses a request that carries
// any header a proxy, load balancer or CDN adds.
func TestManagementRefusesEveryForwardingHeader(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	g.dial(t, "", nil)
	id := g.connID(t, 0)
	srv := httptest.NewServer(g.WithMetrics())
	t.Cleanup(srv.Close)
	for _, h := range []string{
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP",
		"X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server", "X-Original-Forwarded-For",
		"X-Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
		"X-Cluster-Client-IP", "Via", "X-ProxyUser-Ip", "Client-IP", "CDN-Loop",
	} {
		for _, path := range []string{"/dev/@connections/" + url.PathEscape(id), gateway.MetricsPath} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set(h, "1.1 proxy.example")
			forbidden(t, "GET "+path+" with "+h, do(t, req), "proxy")
		}
	}
}

// TestWildcardHostWarns: "*" in AllowedHosts turns the DNS-rebinding check
// off; the server says so when it starts, and says nothing otherwise.
func TestWildcardHostWarns(t *testing.T) {
	t.Parallel()
	for _, hosts := range [][]string{{"*"}, {"chat.example.com"}} {
		var logs bytes.Buffer
		gw, err := gateway.New(gateway.Options{Stage: "dev", AllowedHosts: hosts, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		gw.Shutdown(context.Background())
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "DNS rebinding")
		if warned != (hosts[0] == "*") {
			t.Errorf("AllowedHosts %q: log %q", hosts, logs.String())
		}
	}
}
