package gateway

import (
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The table stays bounded: a full shard forgets a source without open
// connections to make room, and refuses only when every one has some.
func TestSourceTableBounded(t *testing.T) {
	tab := newSourceTable(Limits{SourceConnectRate: 1, MaxSourceConnections: 10, MaxSources: sourceShards}, 0)
	now := time.Now()
	// One entry per shard at most: fill with sources holding a connection.
	held := map[*sourceShard]netip.Addr{}
	for i := 0; len(held) < sourceShards; i++ {
		k := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		sh := tab.shard(k)
		if _, ok := held[sh]; ok {
			continue
		}
		if no := tab.admit(k, now); no != nil {
			t.Fatalf("admit %v: %s", k, no.message)
		}
		held[sh] = k
	}
	if n := tab.len(); n != sourceShards {
		t.Fatalf("%d sources, want %d", n, sourceShards)
	}
	other := netip.MustParseAddr("192.0.2.1")
	if no := tab.admit(other, now); no == nil {
		t.Fatal("a new source admitted into a full shard whose sources all have connections")
	}
	tab.release(held[tab.shard(other)], now)
	if no := tab.admit(other, now); no != nil {
		t.Fatalf("a new source once a place was free: %s", no.message)
	}
	if n := tab.len(); n != sourceShards {
		t.Fatalf("%d sources, want %d", n, sourceShards)
	}
	// The sweep forgets sources without connections whose bucket refilled.
	for _, k := range held {
		tab.release(k, now)
	}
	tab.release(other, now)
	tab.sweep(now.Add(time.Minute))
	if n := tab.len(); n != 0 {
		t.Fatalf("%d sources after the sweep, want 0", n)
	}
}

// An IPv6 source counts with its /64; IPv4-mapped addresses as IPv4.
func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2::ffff":   "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"192.0.2.1":            "192.0.2.1",
		"not an address":       "invalid IP",
	} {
		if got := sourceKey(in).String(); got != want {
			t.Errorf("sourceKey(%q) = %s, want %s", in, got, want)
		}
	}
}

// BenchmarkSourceAdmit is the cost of the per-source check of one
// handshake and its release, from every CPU: among a few sources, and
// among more than the table holds (each new one evicts another).
//
//	go test -run '^$' -bench SourceAdmit ./gateway
func BenchmarkSourceAdmit(b *testing.B) {
	for _, c := range []struct {
		name    string
		sources int
	}{{"256", 256}, {"1M", 1 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			tab := newSourceTable(Limits{SourceConnectRate: 1e9, MaxSourceConnections: 1 << 30, MaxSources: DefaultMaxSources}, 0)
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) % int64(c.sources)
					k := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
					now := time.Now()
					if no := tab.admit(k, now); no != nil {
						b.Fatal(no.message)
					}
					tab.release(k, now)
				}
			})
			b.ReportMetric(float64(tab.len()), "sources")
		})
	}
}

// TestOnCloseReleasesOnceAndAllocatesOnce: the wrapper of a hijacked
// connection releases its source's place at the first Close only, keeps
// the socket's syscall.Conn, and comes with the connection's byte counts
// in one allocation.
func TestOnCloseReleasesOnceAndAllocatesOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	nc, counts := onClose(server, func() { released++ })
	if _, ok := nc.(syscall.Conn); !ok {
		t.Fatal("the wrapper of a TCP connection lost its syscall.Conn")
	}
	counts.in, counts.out = 1, 2
	nc.Close()
	nc.Close()
	if released != 1 {
		t.Fatalf("released %d times after two Closes, want once", released)
	}
	if n := testing.AllocsPerRun(100, func() { onClose(server, func() {}) }); n > 1 {
		t.Fatalf("onClose: %.0f allocations, want 1 (the wrapper and the counts together)", n)
	}
}
