package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// upgradeRequest is a handshake as browsers and the bench's clients send
// it: five headers besides Host, a token in the query string.
func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/dev?token=abc.def.ghi", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("User-Agent", "bench/1")
	r.RemoteAddr = "127.0.0.1:50000"
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
}

func TestConnectHeadersOfAHandshake(t *testing.T) {
	t.Parallel()
	single, multi := connectHeaders(upgradeRequest())
	want := map[string]string{
		"Host": "127.0.0.1:8080", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
		"User-Agent": "bench/1", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Port": "8080", "X-Forwarded-Proto": "http",
	}
	if len(single) != len(want) || len(multi) != len(want) {
		t.Fatalf("headers %v / %v, want %v", single, multi, want)
	}
	for k, v := range want {
		if single[k] != v || len(multi[k]) != 1 || multi[k][0] != v {
			t.Errorf("header %q: %q / %q, want %q", k, single[k], multi[k], v)
		}
	}
}

// TestConnectHeadersAreSmallMaps: the CONNECT event's header maps of a
// handshake with seven headers are sized to them, one group of slots each
// (a larger hint made each a table with a directory: more allocations,
// twice the bytes), and their value lists share one array (8 allocations
// in all; 18 before both).
func TestConnectHeadersAreSmallMaps(t *testing.T) {
	r := upgradeRequest()
	n := testing.AllocsPerRun(100, func() { connectHeaders(r) })
	if n > 12 {
		t.Fatalf("connectHeaders: %.0f allocations, want at most 12", n)
	}
}

// BenchmarkHandshakeMaps is the maps a handshake builds for its events
// (headers and query string), the identity source checked:
//
//	go test -run '^$' -bench HandshakeMaps ./gateway
func BenchmarkHandshakeMaps(b *testing.B) {
	r := upgradeRequest()
	sources := []string{"route.request.querystring.token"}
	b.ReportAllocs()
	for b.Loop() {
		q := r.URL.Query()
		if !identityPresent(sources, q, r.Header, nil) {
			b.Fatal("no token")
		}
		connectHeaders(r)
		query(q)
	}
}

// TestEventListsAreTheirOwn: the value lists of an event's multi-value
// maps share an array, but a handler that appends to one changes no
// other.
func TestEventListsAreTheirOwn(t *testing.T) {
	t.Parallel()
	r := upgradeRequest()
	r.Header.Add("Accept", "a")
	r.Header.Add("Accept", "b")
	_, multi := connectHeaders(r)
	copied := jsonMultiMap(multi)
	for name, m := range map[string]map[string][]string{"connectHeaders": multi, "jsonMultiMap": copied} {
		want := map[string][]string{}
		for k, vs := range m {
			want[k] = append([]string(nil), vs...)
		}
		for k := range m {
			m[k] = append(m[k], "appended to "+k)
		}
		for k, vs := range m {
			if len(vs) != len(want[k])+1 || vs[len(vs)-1] != "appended to "+k {
				t.Fatalf("%s: %q = %q after the appends", name, k, vs)
			}
			for i, v := range want[k] {
				if vs[i] != v {
					t.Fatalf("%s: %q = %q after the appends, want %q and the one appended", name, k, vs, want[k])
				}
			}
		}
	}
	if got := copied["Accept"]; len(got) != 3 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("the copy's Accept: %q", got)
	}
}
