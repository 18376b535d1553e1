package sqlite

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
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
			m := store.Membership{TenantID: "t", RoomID: room, ConnectionID: fmt.Sprintf("%s-conn-%05d", room, i),
				UserID: fmt.Sprintf("user-%05d", i), Username: "User", JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
			// JoinRoom refuses a membership of a connection that is not there.
			if err := s.PutConnection(ctx, store.Connection{ConnectionID: m.ConnectionID, TenantID: m.TenantID,
				UserID: m.UserID, Username: m.Username, ConnectedAt: now, ExpiresAt: m.ExpiresAt}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.JoinRoom(ctx, m, 0); err != nil {
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
		if err != nil || ms.Len() != 100 {
			b.Fatal(ms.Len(), err)
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
			if err != nil || ms.Len() != 100 {
				b.Error(ms.Len(), err)
				return
			}
		}
	})
}

// The fan-out to a large room reads every membership of it.
func BenchmarkRoomMembers10k(b *testing.B) {
	s := roomWithMembers(b, 10000)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.RoomMembers(ctx, "t", "r")
		if err != nil || ms.Len() != 10000 {
			b.Fatal(ms.Len(), err)
		}
	}
}

// BenchmarkUserConnections lists one user's connection among 10,000
// connections of other users (not on the request path since issue 12:
// $connect counts, BenchmarkConnectDisconnectOneUser).
func BenchmarkUserConnections(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	for i := range 10000 {
		c := store.Connection{ConnectionID: fmt.Sprintf("conn-%05d", i), TenantID: "t", UserID: fmt.Sprintf("user-%05d", i),
			Username: "User", ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "127.0.0.1", UserAgent: "bench"}
		if err := s.PutConnection(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		cs, err := s.UserConnections(ctx, "t", "user-04242")
		if err != nil || len(cs) != 1 {
			b.Fatal(len(cs), err)
		}
	}
}

// BenchmarkJoinLargeRoom is what chat's joinRoom does in a room of 10,000
// members: read the members, then join.
func BenchmarkJoinLargeRoom(b *testing.B) {
	s := roomWithMembers(b, 10000)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		m := store.Membership{TenantID: "t", RoomID: "r", ConnectionID: fmt.Sprintf("new-%07d", i),
			UserID: "user", Username: "User", JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
		// JoinRoom refuses a membership of a connection that is not there.
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: m.ConnectionID, TenantID: m.TenantID,
			UserID: m.UserID, Username: m.Username, ConnectedAt: now, ExpiresAt: m.ExpiresAt}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, m, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkConnectDisconnectOneUser is the store's part of a $connect and
// a $disconnect (chat's storeConnection and dropConnection) of a user who
// already has 0, 1,000 or 10,000 connections: count up to the limit, put;
// delete, count up to one. Flat: no step reads all the user's connections.
func BenchmarkConnectDisconnectOneUser(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("existing=%d", n), func(b *testing.B) {
			s := openTest(b, b.TempDir(), nil)
			ctx := b.Context()
			now := time.Now()
			conn := func(id string) store.Connection {
				return store.Connection{ConnectionID: id, TenantID: "t", UserID: "alice", Username: "Alice",
					ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "127.0.0.1", UserAgent: "bench"}
			}
			for i := range n {
				if err := s.PutConnection(ctx, conn(fmt.Sprintf("old-%05d", i))); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				id := fmt.Sprintf("new-%08d", i)
				i++
				if got, err := s.CountUserConnections(ctx, "t", "alice", 200); err != nil || got != min(n, 200) {
					b.Fatal(got, err)
				}
				if err := s.PutConnection(ctx, conn(id)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.DeleteConnection(ctx, id); err != nil {
					b.Fatal(err)
				}
				if got, err := s.CountUserConnections(ctx, "t", "alice", 1); err != nil || got != min(n, 1) {
					b.Fatal(got, err)
				}
			}
		})
	}
}

// BenchmarkCountUserConnections is the count alone, up to the default
// per-user limit, of a user with 10,000 connections.
func BenchmarkCountUserConnections(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	for i := range 10000 {
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: fmt.Sprintf("c-%05d", i), TenantID: "t", UserID: "alice",
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := s.CountUserConnections(ctx, "t", "alice", 200); err != nil || n != 200 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkIndexFillRoom fills one room of the in-memory index with n
// joins of random connection ids (as the gateway makes them), and reports
// the time per join: flat in n when a join is O(1) (a sorted insert moved
// half the room's memberships on every join: quadratic over a fill).
func BenchmarkIndexFillRoom(b *testing.B) {
	for _, n := range []int{1000, 10000, 40000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			now := time.Now()
			ms := make([]store.Membership, n)
			for i := range ms {
				ms[i] = store.Membership{TenantID: "t", RoomID: "r", ConnectionID: randomConnID(), UserID: fmt.Sprintf("user-%03d", i%100),
					Username: "User", JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
			}
			b.ReportAllocs()
			for b.Loop() {
				x := newIndex()
				for _, m := range ms {
					x.join(m)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/join")
		})
	}
}

// randomConnID is a connection id as the gateway makes them: random, so
// that joins land anywhere in a room's id order.
func randomConnID() string {
	var b [11]byte
	rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// BenchmarkSweepNothingExpired is one DeleteExpired that finds nothing in a
// store of 10,000 live connections, each a member of one room: the
// sweeper's cost per interval when nobody has missed a $disconnect (it
// looks at every connection, and at no room's members).
func BenchmarkSweepNothingExpired(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	ctx := b.Context()
	now := time.Now()
	for i := range 10000 {
		id := fmt.Sprintf("c%05d", i)
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: fmt.Sprint("u", i%100),
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: fmt.Sprint("u", i%100),
			JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if imgs, err := s.DeleteExpired(ctx, now, 0); err != nil || len(imgs) != 0 {
			b.Fatal(len(imgs), err)
		}
	}
}

// BenchmarkSweep100k is one DeleteExpired in a store of 100,000
// connections, each a member of one of 1,000 rooms, finding nothing
// expired or 1,000 expired connections (and their memberships) to
// delete: the whole call runs under cmu, so its time is how long every
// connect, join, leave and heartbeat waits behind a sweep.
func BenchmarkSweep100k(b *testing.B) {
	for _, expired := range []int{0, 1000} {
		b.Run(fmt.Sprint("expired=", expired), func(b *testing.B) {
			now := time.Now()
			s := openTest(b, b.TempDir(), func() time.Time { return now })
			ctx := b.Context()
			fill := func(from, n int, exp time.Time) {
				for i := from; i < from+n; i++ {
					id := fmt.Sprintf("c%06d", i)
					u := fmt.Sprint("u", i%10000)
					if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: u,
						ConnectedAt: now, ExpiresAt: exp}); err != nil {
						b.Fatal(err)
					}
					if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: fmt.Sprint("r", i%1000), ConnectionID: id,
						UserID: u, JoinedAt: now, ExpiresAt: exp}, 0); err != nil {
						b.Fatal(err)
					}
				}
			}
			fill(0, 100000-expired, now.Add(time.Hour))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				fill(100000-expired, expired, now.Add(time.Second))
				b.StartTimer()
				for {
					imgs, err := s.DeleteExpired(ctx, now.Add(time.Minute), 0)
					if err != nil {
						b.Fatal(err)
					}
					if len(imgs) == 0 {
						break
					}
					b.StopTimer()
					for _, img := range imgs {
						if m, err := img.Membership(); err == nil {
							s.ReleaseMembership(ctx, m)
						}
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkTouchDuringSweep100k is a heartbeat (TouchConnection, a write
// that takes cmu) in a store of 100,000 connections while another
// goroutine sweeps (DeleteExpired, nothing expired) without pause: the
// reported max-µs and p99-µs are how long the hot path waits behind a
// sweep.
func BenchmarkTouchDuringSweep100k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 100000
	for i := range n {
		id := fmt.Sprintf("c%06d", i)
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: fmt.Sprint("u", i%10000),
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: fmt.Sprint("r", i%1000), ConnectionID: id,
			UserID: fmt.Sprint("u", i%10000), JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.DeleteExpired(ctx, now, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	var waits []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := s.TouchConnection(ctx, fmt.Sprintf("c%06d", i%n), now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		waits = append(waits, time.Since(start))
		i++
	}
	close(stop)
	wg.Wait()
	slices.Sort(waits)
	b.ReportMetric(float64(waits[len(waits)-1].Microseconds()), "max-µs")
	b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkHeartbeatInBusyRoom10k is a heartbeat (TouchConnection) of a
// member of a room of 10,000 after a broadcast read the room
// (RoomMembers): the list handed out is shared; the renewed expiry is
// written apart from it (roomMembers.exps), so the heartbeat costs the
// same whatever the room's size (it used to copy the whole list: 1.37 MB).
func BenchmarkHeartbeatInBusyRoom10k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 10000
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: fmt.Sprint("u", i),
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: fmt.Sprint("u", i), JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		if err := s.TouchConnection(ctx, fmt.Sprintf("c%05d", i%n), now.Add(time.Hour+time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
