package chat_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/push"
)

type discardPusher struct{}

func (discardPusher) Post(context.Context, string, []byte) error { return nil }
func (discardPusher) PostMany(context.Context, []string, []byte) ([]string, error) {
	return nil, nil
}

var _ push.Pusher = discardPusher{}

// BenchmarkMessageLimits is the cost of the rate limits on a request:
// the same sendMessage (embedded store, a room of one) through the action
// router with the limits off, and on (rates too high to refuse, so every
// request is served and only the counting differs), from 64 connections
// of 8 tenants. Compare the two ns/op.
func BenchmarkMessageLimits(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  chat.Config
	}{
		{"off", chat.Config{ActionRate: -1, TenantBytesRate: -1}},
		{"on", chat.Config{ActionRate: 1e12, ActionBurst: 1e9, TenantBytesRate: 1e15, TenantBytesBurst: 1e12}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st, err := sqlite.Open(b.TempDir(), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			tc.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			svc := chat.New(st, discardPusher{}, nil, tc.cfg)
			ctx := context.Background()
			now := time.Now()
			var evs []events.APIGatewayWebsocketProxyRequest
			for i := range 64 {
				tenant := string(rune('a' + i%8))
				conn := tenant + string(rune('A'+i/8))
				room := "r" + conn
				if err := st.CreateRoom(ctx, store.Room{TenantID: tenant, RoomID: room, Name: "R", CreatedBy: "u", CreatedAt: now}); err != nil {
					b.Fatal(err)
				}
				if err := st.PutConnection(ctx, store.Connection{ConnectionID: conn, TenantID: tenant, UserID: conn, Username: conn, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
				if _, err := st.JoinRoom(ctx, store.Membership{TenantID: tenant, RoomID: room, ConnectionID: conn, UserID: conn, Username: conn, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
					b.Fatal(err)
				}
				ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","data":{"roomId":"` + room + `","content":"hello there"},"requestId":"1"}`}
				ev.RequestContext.ConnectionID = conn
				ev.RequestContext.Authorizer = map[string]any{"userId": conn, "username": conn, "tenantId": tenant}
				evs = append(evs, ev)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := svc.Message(ctx, evs[i%len(evs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
