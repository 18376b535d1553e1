package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/store"
)

func BenchmarkPutMessage(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", Username: "U",
			Content: "a message of typical length, a sentence or two of chat", MessageType: store.MessageText, CreatedAt: now}
		if err := s.PutMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// Writes are serialised through one connection: parallel callers queue.
func BenchmarkPutMessageParallel(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", Username: "U",
				Content: "a message of typical length, a sentence or two of chat", MessageType: store.MessageText, CreatedAt: now}
			if err := s.PutMessage(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func roomWithMembers(b *testing.B, n int) *Store {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	for i := range n {
		// Other rooms' members too, so that the index has to discriminate.
		for _, room := range []string{"r", "other"} {
			m := store.Membership{TenantID: "t", RoomID: room, ConnectionID: fmt.Sprintf("%s-conn-%03d", room, i),
				UserID: fmt.Sprintf("user-%03d", i), Username: "User", JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
			if _, err := s.JoinRoom(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s
}

func BenchmarkRoomMembers100(b *testing.B) {
	s := roomWithMembers(b, 100)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.RoomMembers(ctx, "t", "r")
		if err != nil || len(ms) != 100 {
			b.Fatal(len(ms), err)
		}
	}
}

// Reads run in parallel on the read pool.
func BenchmarkRoomMembers100Parallel(b *testing.B) {
	s := roomWithMembers(b, 100)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ms, err := s.RoomMembers(ctx, "t", "r")
			if err != nil || len(ms) != 100 {
				b.Error(len(ms), err)
				return
			}
		}
	})
}
