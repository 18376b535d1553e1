package localonly_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/localonly"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		remote string
		want   string
	}{
		{"127.0.0.1:5000", ""}, {"[::1]:5000", ""}, {"127.1.2.3:1", ""},
		{"192.0.2.1:5000", localonly.NotLoopback}, {"[2001:db8::1]:5000", localonly.NotLoopback},
		{"garbage", localonly.NotLoopback}, {"", localonly.NotLoopback},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if why, _ := localonly.Check(r); why != tc.want {
			t.Errorf("remote %q: %q, want %q", tc.remote, why, tc.want)
		}
	}
}

// Every header a common proxy, load balancer or CDN adds gives it away,
// even empty, in any case.
func TestCheckRefusesForwardingHeaders(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP",
		"X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server", "X-Original-Forwarded-For",
		"X-Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
		"X-Cluster-Client-IP", "Via", "X-ProxyUser-Ip", "Client-IP", "CDN-Loop",
		"x-forwarded-proto", "via",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		r.Header[http.CanonicalHeaderKey(h)] = []string{""}
		if why, attrs := localonly.Check(r); why != localonly.ThroughProxy || len(attrs) == 0 {
			t.Errorf("%s: %q %v, want %q", h, why, attrs, localonly.ThroughProxy)
		}
	}
}
