package gateway_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// BenchmarkConnectSources measures WebSocket handshakes per second over
// loopback (each then closed) with the per-source limits on (set so high
// that nothing is refused, so that only their cost shows) and off:
//
//	go test -run '^$' -bench ConnectSources -benchtime 20000x ./gateway
func BenchmarkConnectSources(b *testing.B) {
	for _, c := range []struct {
		name   string
		limits gateway.Limits
	}{
		{"off", gateway.Limits{ConnectRate: -1, SourceConnectRate: -1, MaxSourceConnections: -1}},
		{"on", gateway.Limits{ConnectRate: -1, SourceConnectRate: 1e9, MaxSourceConnections: 1 << 30}},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv, err := gateway.New(gateway.Options{Stage: "dev", Limits: c.limits, Logger: testutil.DiscardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			defer srv.Shutdown(b.Context())
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					conn, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err != nil {
						b.Error(err)
						return
					}
					conn.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "connects/s")
		})
	}
}
