package devstack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sbclient "github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func serveUIStack(t *testing.T, opts devstack.Options) *devstack.Stack {
	t.Helper()
	opts.DataDir = t.TempDir()
	opts.Logger = testutil.DiscardLogger()
	st, err := devstack.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

type devTokenReply struct {
	devstack.DevTokenResponse
	Error string `json:"error"`
	Code  string `json:"code"`
	Field string `json:"field"`
}

func postDevToken(t *testing.T, base, contentType, body string, header http.Header) (int, http.Header, devTokenReply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+devstack.DevTokenPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out devTokenReply
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: answer is not JSON: %q", devstack.DevTokenPath, raw)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: nosniff %q, Cache-Control %q", res.Header.Get("X-Content-Type-Options"), res.Header.Get("Cache-Control"))
	}
	return res.StatusCode, res.Header, out
}

func TestDevTokenMintsAWorkingToken(t *testing.T) {
	t.Parallel()
	st := serveUIStack(t, devstack.Options{})
	base := "http://" + st.Addr()
	code, _, out := postDevToken(t, base, "application/json",
		`{"userId":"alice","username":"Alice Liddell","tenantId":"acme"}`, nil)
	if code != http.StatusOK || out.Token == "" {
		t.Fatalf("status %d, %+v", code, out)
	}
	if out.URL != st.URL() || out.UserID != "alice" || out.Username != "Alice Liddell" || out.TenantID != "acme" {
		t.Errorf("answer %+v (stack URL %s)", out, st.URL())
	}
	if d := time.Until(out.ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("expiresAt %v", out.ExpiresAt)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sbclient.Dial(ctx, sbclient.Options{URL: out.URL, Token: out.Token, NoReconnect: true})
	if err != nil {
		t.Fatalf("connecting with the token: %v", err)
	}
	defer c.Close()
	users, err := c.OnlineUsers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].UserID != "alice" || users[0].Username != "Alice Liddell" {
		t.Errorf("online users %+v", users)
	}

	// Defaults: username is the user id, the tenant "default"; a charset
	// parameter is fine.
	code, _, out = postDevToken(t, base, "application/json; charset=utf-8", `{"userId":"bob"}`, nil)
	if code != http.StatusOK || out.Username != "bob" || out.TenantID != "default" {
		t.Errorf("defaults: status %d, %+v", code, out)
	}
	// Same-origin headers, as a browser sends them, are fine.
	code, _, _ = postDevToken(t, base, "application/json", `{"userId":"carol"}`, http.Header{
		"Origin": {base}, "Sec-Fetch-Site": {"same-origin"},
	})
	if code != http.StatusOK {
		t.Errorf("same-origin request: status %d", code)
	}
}

func TestDevTokenRefusesBadInput(t *testing.T) {
	t.Parallel()
	st := serveUIStack(t, devstack.Options{})
	base := "http://" + st.Addr()
	long := strings.Repeat("a", 65)
	for _, tc := range []struct {
		name, contentType, body string
		header                  http.Header
		status                  int
		code, field             string
	}{
		{"no content type", "", `{"userId":"a"}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"form", "application/x-www-form-urlencoded", `userId=a`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"text/plain", "text/plain", `{"userId":"a"}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"not JSON", "application/json", `{userId:`, nil, 400, "INVALID_JSON", ""},
		{"array", "application/json", `[1]`, nil, 400, "INVALID_JSON", ""},
		{"two objects", "application/json", `{"userId":"a"}{"userId":"b"}`, nil, 400, "INVALID_JSON", ""},
		{"unknown field", "application/json", `{"userId":"a","admin":true}`, nil, 400, "INVALID_JSON", ""},
		{"wrong type", "application/json", `{"userId":7}`, nil, 400, "INVALID_JSON", ""},
		{"too large", "application/json", `{"userId":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "TOO_LARGE", ""},
		{"no user id", "application/json", `{"username":"A"}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"blank user id", "application/json", `{"userId":"   "}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"long user id", "application/json", `{"userId":"` + long + `"}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"user id with space", "application/json", `{"userId":"a b"}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"user id with markup", "application/json", `{"userId":"<img>"}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"user id starting with a dot", "application/json", `{"userId":".a"}`, nil, 400, "INVALID_REQUEST", "userId"},
		{"long username", "application/json", `{"userId":"a","username":"` + long + `"}`, nil, 400, "INVALID_REQUEST", "username"},
		{"username with a newline", "application/json", `{"userId":"a","username":"A\nB"}`, nil, 400, "INVALID_REQUEST", "username"},
		{"username with bidi override", "application/json", `{"userId":"a","username":"A\u202eB"}`, nil, 400, "INVALID_REQUEST", "username"},
		{"username with NUL", "application/json", `{"userId":"a","username":"A\u0000"}`, nil, 400, "INVALID_REQUEST", "username"},
		{"long tenant", "application/json", `{"userId":"a","tenantId":"` + long + `"}`, nil, 400, "INVALID_REQUEST", "tenantId"},
		{"tenant with slash", "application/json", `{"userId":"a","tenantId":"a/b"}`, nil, 400, "INVALID_REQUEST", "tenantId"},
		{"tenant with @", "application/json", `{"userId":"a","tenantId":"a@b"}`, nil, 400, "INVALID_REQUEST", "tenantId"},
		{"cross-origin", "application/json", `{"userId":"a"}`, http.Header{"Origin": {"http://evil.example"}}, 403, "FORBIDDEN", ""},
		{"cross-site fetch", "application/json", `{"userId":"a"}`, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, "FORBIDDEN", ""},
		{"through a proxy", "application/json", `{"userId":"a"}`, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, 403, "FORBIDDEN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, out := postDevToken(t, base, tc.contentType, tc.body, tc.header)
			if code != tc.status || out.Code != tc.code || out.Field != tc.field || out.Token != "" {
				t.Errorf("status %d code %q field %q, want %d %q %q (error %q)", code, out.Code, out.Field, tc.status, tc.code, tc.field, out.Error)
			}
			if out.Error == "" {
				t.Error("no error message")
			}
		})
	}
	// A unicode display name is fine.
	if code, _, out := postDevToken(t, base, "application/json", `{"userId":"zoe","username":"Zoë 👋 <b>"}`, nil); code != 200 || out.Username != "Zoë 👋 <b>" {
		t.Errorf("unicode username: status %d, %+v", code, out)
	}
}

func TestDevTokenMethodAndHost(t *testing.T) {
	t.Parallel()
	st := serveUIStack(t, devstack.Options{})
	base := "http://" + st.Addr()
	res, err := http.Get(base + devstack.DevTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
		t.Errorf("GET: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}

	// DNS rebinding: a loopback client whose Host names another site.
	req, _ := http.NewRequest(http.MethodPost, base+devstack.DevTokenPath, strings.NewReader(`{"userId":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "evil.example:80"
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: status %d, want 403", res.StatusCode)
	}
	// localhost is fine.
	req, _ = http.NewRequest(http.MethodPost, base+devstack.DevTokenPath, strings.NewReader(`{"userId":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "localhost:8080"
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("Host localhost: status %d, want 200", res.StatusCode)
	}

	// A client on another machine gets no token.
	r := httptest.NewRequest(http.MethodPost, devstack.DevTokenPath, strings.NewReader(`{"userId":"a"}`))
	r.RemoteAddr = "192.0.2.7:5555"
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	st.Gateway.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "token\":\"ey") {
		t.Errorf("remote client: status %d, body %s", rec.Code, rec.Body)
	}
}

func TestUIServedAtRoot(t *testing.T) {
	t.Parallel()
	st := serveUIStack(t, devstack.Options{})
	res, err := http.Get("http://" + st.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "app.js") {
		t.Fatalf("GET /: status %d", res.StatusCode)
	}
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("GET /: CSP %q", res.Header.Get("Content-Security-Policy"))
	}
	res, err = http.Get("http://" + st.Addr() + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("GET /nope: status %d", res.StatusCode)
	}
}

// Without the UI (NoUI), and in a plain gateway (what `switchboard serve`
// runs), there is no /dev-token.
func TestDevTokenAbsentWithoutDevUI(t *testing.T) {
	t.Parallel()
	st := serveUIStack(t, devstack.Options{NoUI: true})
	code := postStatus(t, "http://"+st.Addr()+devstack.DevTokenPath)
	if code != http.StatusNotFound {
		t.Errorf("NoUI: POST /dev-token: status %d, want 404", code)
	}
	res, err := http.Get("http://" + st.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "connect a WebSocket client") {
		t.Errorf("NoUI: GET / = %q", body)
	}

	gw, err := gateway.New(gateway.Options{Stage: "prod", RouteSelectionExpression: "$request.body.action",
		Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Shutdown(context.Background())
	srv := httptest.NewServer(gw)
	defer srv.Close()
	if code := postStatus(t, srv.URL+devstack.DevTokenPath); code == http.StatusOK {
		t.Errorf("gateway: POST /dev-token: status %d", code)
	}
}

func postStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(`{"userId":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "token") {
		t.Errorf("POST %s answered a token: %s", url, body)
	}
	return res.StatusCode
}
