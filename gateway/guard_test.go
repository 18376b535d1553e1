package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// What the guard lets through is configurable: more origins, more host
// names (DomainName is one), or any.
func TestGuardConfiguration(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{
		DomainName:     "chat.example.com",
		AllowedHosts:   []string{"*.corp.example", "gw.lan"},
		AllowedOrigins: []string{"https://admin.example.com"},
	})
	h := g.WithMetrics()
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"chat.example.com", "", 200},
		{"CHAT.example.com.:8443", "", 200},
		{"a.b.corp.example", "", 200},
		{"gw.lan:80", "", 200},
		{"corp.example", "", 403},
		{"gw.lan.evil.example", "", 403},
		{"localhost", "https://admin.example.com", 200},
		{"localhost", "https://admin.example.com:443", 200},
		{"localhost", "http://admin.example.com", 403},
		{"localhost", "http://localhost", 200},
		{"localhost:8080", "http://localhost:8080", 200},
		{"localhost:8080", "http://localhost:8081", 403},
	} {
		r := httptest.NewRequest(http.MethodGet, gateway.MetricsPath, nil)
		r.RemoteAddr = "127.0.0.1:5000"
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q Origin %q: %d, want %d: %s", tc.host, tc.origin, w.Code, tc.want, w.Body)
		}
	}

	any := start(t, gateway.Options{AllowedHosts: []string{"*"}, AllowedOrigins: []string{"*"}})
	r := httptest.NewRequest(http.MethodGet, gateway.MetricsPath, nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Host = "anything.example"
	r.Header.Set("Origin", "https://elsewhere.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	any.WithMetrics().ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("with * allowed: %d", w.Code)
	}
	// The loopback rule holds whatever is allowed.
	r.RemoteAddr = "192.0.2.1:5000"
	w = httptest.NewRecorder()
	any.WithMetrics().ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("non-loopback with * allowed: %d", w.Code)
	}
}

func TestGuardOptionsValidated(t *testing.T) {
	t.Parallel()
	for _, opts := range []gateway.Options{
		{Stage: "dev", AllowedHosts: []string{"http://x.example"}},
		{Stage: "dev", AllowedHosts: []string{""}},
		{Stage: "dev", AllowedHosts: []string{"a.*.example"}},
		{Stage: "dev", AllowedOrigins: []string{"admin.example.com"}},
		{Stage: "dev", AllowedOrigins: []string{"null"}},
		{Stage: "dev", AllowedOrigins: []string{"https://x.example/path"}},
	} {
		if _, err := gateway.New(opts); err == nil || !strings.Contains(err.Error(), "Allowed") {
			t.Errorf("%v %v: err %v, want an error naming the field", opts.AllowedHosts, opts.AllowedOrigins, err)
		}
	}
}

// With credentials the management API answers any client with a valid
// signature, whatever Host it names (the signature covers it): but never a
// cross-origin request.
func TestGuardWithCredentials(t *testing.T) {
	t.Parallel()
	creds := sigv4.Credentials{"AKID": "secret"}
	srv, err := gateway.New(gateway.Options{Stage: "dev", Credentials: creds, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	sign := func(host, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "http://"+host+"/dev/@connections/AAAAAAAAAAAAAAA=", nil)
		r.RemoteAddr = "192.0.2.1:5000"
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r, emptyHash, "execute-api", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	if w := sign("gateway.internal:8080", ""); w.Code != http.StatusGone {
		t.Errorf("signed, Host gateway.internal: %d %s, want 410", w.Code, w.Body)
	}
	if w := sign("gateway.internal:8080", "http://evil.example"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "cross-origin") {
		t.Errorf("signed, cross-origin: %d %s, want 403", w.Code, w.Body)
	}
}
