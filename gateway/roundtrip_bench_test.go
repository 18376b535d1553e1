package gateway_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// BenchmarkRoundTrip sends a message and waits for its route response, one
// at a time per connection: between two messages every connection is idle,
// so its reader parks and is woken by the next one (park.go): the
// round trip includes that wake. "conns=1" is one client; "conns=64" runs
// 64 clients at once.
func BenchmarkRoundTrip(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			srv, err := gateway.New(gateway.Options{Stage: "dev", Logger: testutil.DiscardLogger(), Routes: map[string]gateway.Route{
				"$default": {RouteResponse: true, Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
					return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
				})},
			}})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			defer srv.Shutdown(context.Background())
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"
			conns := make([]*websocket.Conn, n)
			for i := range conns {
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			msg := []byte(`{"action":"echo","data":"0123456789012345678901234567890123456789"}`)
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / n
			for i, c := range conns {
				k := per
				if i == 0 {
					k += b.N % n
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range k {
						if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
							b.Error(err)
							return
						}
						if _, _, err := c.ReadMessage(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
