package originguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/originguard"
)

func TestHostRule(t *testing.T) {
	t.Parallel()
	g := originguard.MustNew(originguard.Config{Hosts: []string{"Chat.Example.com", "*.corp.example", "10.1.2.3", "[2001:db8::1]:8080"}})
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"localhost", true}, {"LOCALHOST:8080", true}, {"localhost.", true}, {"ui.localhost:3000", true},
		{"127.0.0.1:8080", true}, {"127.9.9.9", true}, {"[::1]:8080", true},
		{"chat.example.com", true}, {"chat.example.com:443", true},
		{"x.corp.example", true}, {"corp.example", false}, {"xcorp.example", false},
		{"10.1.2.3:80", true}, {"[2001:db8:0::1]", true},
		{"192.0.2.10:8080", true}, // the address the connection reached, below
		{"192.0.2.11:8080", false},
		{"evil.example", false}, {"localhost.evil.example", false}, {"127.0.0.1.evil.example", false},
		{"", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = tc.host
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8080}))
		if why := g.CheckHost(r); (why == "") != tc.ok {
			t.Errorf("Host %q: %q, want ok=%v", tc.host, why, tc.ok)
		}
	}
}

func TestOriginRule(t *testing.T) {
	t.Parallel()
	g := originguard.MustNew(originguard.Config{Origins: []string{"https://admin.example.com"}})
	for _, tc := range []struct {
		host, origin, site string
		ok                 bool
	}{
		{"localhost:8080", "", "", true},
		{"localhost:8080", "", "none", true},
		{"localhost:8080", "", "same-origin", true},
		{"localhost:8080", "", "same-site", false},
		{"localhost:8080", "", "cross-site", false},
		{"localhost:8080", "http://localhost:8080", "same-origin", true},
		{"localhost:8080", "https://localhost:8080", "", true},
		{"LocalHost:8080", "http://localhost:8080", "", true},
		{"localhost", "http://localhost:80", "", true},
		{"localhost:8080", "http://localhost:8081", "same-site", false},
		{"localhost:8080", "http://evil.example", "cross-site", false},
		{"localhost:8080", "null", "", false},
		{"localhost:8080", "file://", "", false},
		{"localhost:8080", "https://admin.example.com", "cross-site", true},
		{"localhost:8080", "https://admin.example.com:443", "", true},
		{"localhost:8080", "http://admin.example.com", "", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if why := g.CheckOrigin(r); (why == "") != tc.ok {
			t.Errorf("Host %q Origin %q Sec-Fetch-Site %q: %q, want ok=%v", tc.host, tc.origin, tc.site, why, tc.ok)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []originguard.Config{
		{Hosts: []string{""}}, {Hosts: []string{"a.*.example"}}, {Hosts: []string{"http://a.example"}}, {Hosts: []string{"a b"}},
		{Origins: []string{"a.example"}}, {Origins: []string{"null"}}, {Origins: []string{"ftp://a.example"}}, {Origins: []string{"https://a.example/x"}},
	} {
		if _, err := originguard.New(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// A flood of refusals logs a few lines a second, and the next line says
// how many were left out.
func TestLogLimiter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l originguard.LogLimiter
	const flood = 10000
	for range flood {
		l.Info(log, "refused")
	}
	lines := strings.Count(buf.String(), "\n")
	// However slow the machine, 10,000 calls do not take 200 seconds.
	if lines < 1 || lines > 1000 {
		t.Fatalf("%d lines logged for %d refusals", lines, flood)
	}
	if lines < flood && !strings.Contains(buf.String(), "suppressed=") && lines > originguard.DefaultLogsPerSecond {
		t.Errorf("no line says how many were suppressed:\n%s", buf.String())
	}
}

// BenchmarkCheck is the guard's cost on a management post from an SDK:
// a loopback Host, no Origin.
func BenchmarkCheck(b *testing.B) {
	g := originguard.MustNew(originguard.Config{Hosts: []string{"chat.example.com"}})
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/dev/@connections/x", nil)
	b.ReportAllocs()
	for range b.N {
		if g.Check(r) != "" {
			b.Fatal("refused")
		}
	}
}
