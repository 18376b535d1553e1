package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// BenchmarkEnqueueFanout is the per-recipient work of a broadcast's
// PostFrame, without sockets: the frame queued to 1,000 connections whose
// writer is busy (so it stays queued), per op. It measures what the
// inspector adds to the hot path: the byte counter and the test of the
// watching flag ("watched": with an inspector subscribed, every frame is
// also an event).
func BenchmarkEnqueueFanout(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "unwatched"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			s, err := New(Options{Stage: "dev"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(b.Context())
			if watched {
				sub, _, _ := s.InspectSubscribe()
				defer sub.Cancel()
				go func() {
					for range sub.C {
					}
				}()
			}
			conns := benchConns(s, 1000)
			frame := wsproto.TextFrame(make([]byte, 100))
			now := time.Now().UnixNano()
			for b.Loop() {
				for _, c := range conns {
					c.enqueueOrClaim(frame, now, false)
				}
				for _, c := range conns {
					c.queue, c.queued = c.queue[:0], 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(conns)), "ns/recipient")
		})
	}
}

// benchConns are n open connections with their writer busy.
func benchConns(s *Server, n int) []*conn {
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = &conn{srv: s, writing: true, counts: new(connCounts)}
	}
	return conns
}

// BenchmarkInspectConnections is one listing of the inspector's
// connections (the page asks every 2 s, and after connects) with 100,000
// open: the newest DefaultInspectConnections are picked from all of them.
func BenchmarkInspectConnections(b *testing.B) {
	s, err := New(Options{Stage: "dev"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context())
	start := time.Now().UnixMilli()
	conns := make([]*conn, 100_000)
	for i := range conns {
		c := &conn{srv: s, counts: new(connCounts)}
		c.meta.id = fmt.Sprintf("conn%06d", i)
		c.meta.connectedAt = start + int64(i%5000) // many in the same millisecond, as in a burst
		c.lastActive.Store(time.Now().UnixNano())  // not idle: the sweeper would close it
		s.reg.add(c)
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			s.reg.remove(c) // they have no socket to close
		}
	}()
	for b.Loop() {
		list, total := s.InspectConnections(b.Context())
		if total != 100_000 || len(list) != DefaultInspectConnections {
			b.Fatalf("%d of %d", len(list), total)
		}
	}
}
