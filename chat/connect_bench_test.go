package chat_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
)

// nopPusher delivers nothing (no connection in these benchmarks has a
// socket).
type nopPusher struct{}

func (nopPusher) Post(context.Context, string, []byte) error { return nil }

func (nopPusher) PostMany(context.Context, []string, []byte) ([]string, error) { return nil, nil }

// BenchmarkConnectOneUser is a $connect and a $disconnect of a user who
// already has 0, 1,000 or 10,000 connections (issue 12: the cost of each
// grew with them). The store is the embedded one.
func BenchmarkConnectOneUser(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("existing=%d", n), func(b *testing.B) {
			st, err := sqlite.Open(b.TempDir(), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			ctx := b.Context()
			now := time.Now()
			for i := range n {
				if err := st.PutConnection(ctx, store.Connection{ConnectionID: fmt.Sprintf("old-%05d", i), TenantID: "t",
					UserID: "alice", Username: "Alice", ConnectedAt: now, ExpiresAt: now.Add(time.Hour),
					SourceIP: "127.0.0.1", UserAgent: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			svc := chat.New(st, nopPusher{}, nil, unlimitedConfig())
			ev := events.APIGatewayWebsocketProxyRequest{}
			ev.RequestContext.Authorizer = map[string]any{"userId": "alice", "username": "Alice", "tenantId": "t"}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				ev.RequestContext.ConnectionID = fmt.Sprintf("new-%08d", i)
				i++
				if r, err := svc.Connect(ctx, ev); err != nil || r.StatusCode != 200 {
					b.Fatal(r.StatusCode, err)
				}
				if _, err := svc.Disconnect(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOtherUserDuringConnects is what another user's requests pay
// (GetConnection, as every action does, and RoomMembers, as every
// broadcast does) while a user with 10,000 connections connects and
// disconnects without pause (issue 12: others' latency reached seconds).
func BenchmarkOtherUserDuringConnects(b *testing.B) {
	st, err := sqlite.Open(b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := b.Context()
	now := time.Now()
	for i := range 10000 {
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: fmt.Sprintf("old-%05d", i), TenantID: "t",
			UserID: "alice", Username: "Alice", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	bob := store.Connection{ConnectionID: "bob-1", TenantID: "t2", UserID: "bob", Username: "Bob", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.PutConnection(ctx, bob); err != nil {
		b.Fatal(err)
	}
	if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t2", RoomID: "r", ConnectionID: "bob-1", UserID: "bob",
		JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
		b.Fatal(err)
	}
	svc := chat.New(st, nopPusher{}, nil, unlimitedConfig())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ev := events.APIGatewayWebsocketProxyRequest{}
		ev.RequestContext.Authorizer = map[string]any{"userId": "alice", "username": "Alice", "tenantId": "t"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ev.RequestContext.ConnectionID = fmt.Sprintf("new-%08d", i)
			svc.Connect(ctx, ev)
			svc.Disconnect(ctx, ev)
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.GetConnection(ctx, "bob-1"); err != nil {
			b.Fatal(err)
		}
		if ms, err := st.RoomMembers(ctx, "t2", "r"); err != nil || ms.Len() != 1 {
			b.Fatal(ms.Len(), err)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
}

// BenchmarkConnectAndJoinOneRoom is a $connect and a joinRoom of one more
// connection into one room that grows with b.N (`switchboard bench fanout`'s
// join phase: 100 users, many connections each): each join used to read
// the whole room, so that filling it was quadratic.
func BenchmarkConnectAndJoinOneRoom(b *testing.B) {
	st, err := sqlite.Open(b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := b.Context()
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u0", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	svc := chat.New(st, nopPusher{}, nil, unlimitedConfig())
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"j"}`}
		user := fmt.Sprintf("u%d", i%100)
		ev.RequestContext.Authorizer = map[string]any{"userId": user, "username": user, "tenantId": "t"}
		ev.RequestContext.ConnectionID = fmt.Sprintf("c%08d", i)
		i++
		if r, err := svc.Connect(ctx, ev); err != nil || r.StatusCode != 200 {
			b.Fatal(r.StatusCode, err)
		}
		if _, err := svc.Message(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnectAndJoinOneRoomConcurrently is BenchmarkConnectAndJoinOneRoom
// with 64 connections connecting and joining at once, as `switchboard bench
// fanout`'s receivers do (--concurrency 64): the embedded store commits the
// writes that wait together (group commit).
func BenchmarkConnectAndJoinOneRoomConcurrently(b *testing.B) {
	st, err := sqlite.Open(b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := b.Context()
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u0", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	svc := chat.New(st, nopPusher{}, nil, unlimitedConfig())
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"j"}`}
			user := fmt.Sprintf("u%d", i%100)
			ev.RequestContext.Authorizer = map[string]any{"userId": user, "username": user, "tenantId": "t"}
			ev.RequestContext.ConnectionID = fmt.Sprintf("c%08d", i)
			if r, err := svc.Connect(ctx, ev); err != nil || r.StatusCode != 200 {
				b.Fatal(r.StatusCode, err)
			}
			if _, err := svc.Message(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
