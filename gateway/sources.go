package gateway

import (
	"fmt"
	"hash/maphash"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the per-source limits (Limits.SourceConnectRate,
// MaxSourceConnections, MaxSources).
const (
	// DefaultSourceShare: by default a source may use 1/DefaultSourceShare
	// of ConnectRate, with the same burst as ConnectRate (so that a client
	// opening as many connections at once as the gateway admits still
	// can): a source hammering the endpoint leaves the rest of the rate to
	// the others.
	DefaultSourceShare = 2
	// DefaultMaxSourceConnections is the default maximum of open
	// connections of one source address: a normal client has a few, an
	// office behind one NAT address perhaps thousands.
	DefaultMaxSourceConnections = 10000
	// DefaultMaxSources bounds the table of source addresses (about 200
	// bytes each).
	DefaultMaxSources = 1 << 16
	// DefaultSourceRetryAfter is the Retry-After of a source at its
	// maximum of open connections.
	DefaultSourceRetryAfter = 5 * time.Second
)

const (
	sourceShards = 64
	// sourceSweepEvery is how often the janitor forgets idle sources.
	sourceSweepEvery = 10 * time.Second
	// evictSample is how many entries of a full shard are looked at for
	// one to forget.
	evictSample = 8
)

// applySourceDefaults fills the per-source limits; after applyDefaults.
func (l *Limits) applySourceDefaults() {
	if l.SourceConnectRate == 0 {
		l.SourceConnectRate = -1
		if l.ConnectRate > 0 {
			l.SourceConnectRate = l.ConnectRate / DefaultSourceShare
		}
	}
	if l.MaxSourceConnections == 0 {
		l.MaxSourceConnections = -1
		if l.ConnectRate > 0 {
			l.MaxSourceConnections = DefaultMaxSourceConnections
		}
	}
	if l.MaxSources == 0 {
		l.MaxSources = DefaultMaxSources
	}
}

// validateSourceLimits checks the limits of sources.go; errors name the
// field.
func (l *Limits) validateSourceLimits() error {
	for name, v := range map[string]float64{"ConnectRate": l.ConnectRate, "SourceConnectRate": l.SourceConnectRate} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("gateway: Options.Limits.%s: %v is not a rate", name, v)
		}
	}
	if l.MaxSources < 0 {
		return fmt.Errorf("gateway: Options.Limits.MaxSources: must not be negative (the table of sources must be bounded)")
	}
	return nil
}

// sourceTable counts the handshakes and the open connections of each
// source address. It is sharded by address, each shard under its own
// mutex held for O(1) work (or one scan of the shard when it is full);
// idle entries are forgotten by the janitor's sweep, and by an insertion
// into a full shard. No goroutine per entry.
type sourceTable struct {
	rate     rate.Limit // 0: no rate limit
	burst    int
	maxOpen  int           // 0: no limit
	perShard int           // entries
	refill   time.Duration // an entry idle this long has a full bucket: forgetting it gives nothing away
	seed     maphash.Seed
	shards   [sourceShards]sourceShard
}

type sourceShard struct {
	mu sync.Mutex
	m  map[netip.Addr]*source
}

// source is one address's bucket and open connections (guarded by its
// shard's mutex).
type source struct {
	lim  *rate.Limiter // nil: no rate limit
	open int
	last time.Time
}

// newSourceTable returns the table for l, or nil when l limits no source.
// The bucket of each source holds burst connections: by default
// (burst 0) the whole rate, rounded down, at least 1.
func newSourceTable(l Limits, burst int) *sourceTable {
	if l.SourceConnectRate <= 0 && l.MaxSourceConnections <= 0 {
		return nil
	}
	t := &sourceTable{seed: maphash.MakeSeed(), perShard: max(l.MaxSources/sourceShards, 1)}
	if l.SourceConnectRate > 0 {
		t.rate = rate.Limit(l.SourceConnectRate)
		t.burst = burst
		if t.burst <= 0 {
			t.burst = int(min(max(math.Floor(l.SourceConnectRate), 1), math.MaxInt32))
		}
		t.refill = time.Duration(float64(t.burst) / l.SourceConnectRate * float64(time.Second))
	}
	if l.MaxSourceConnections > 0 {
		t.maxOpen = l.MaxSourceConnections
	}
	for i := range t.shards {
		t.shards[i].m = map[netip.Addr]*source{}
	}
	return t
}

// sourceKey is the address a source is counted by: the IP, an IPv6 one
// with its /64 (one subscriber's allocation); the zero Addr for what does
// not parse (every such source shares it).
func sourceKey(ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

func (t *sourceTable) shard(k netip.Addr) *sourceShard {
	return &t.shards[maphash.Comparable(t.seed, k)%sourceShards]
}

// sourceRefusal says why a source's handshake was refused.
type sourceRefusal struct {
	message    string
	retryAfter time.Duration
}

// admit counts a handshake of k: a place among its open connections and a
// token of its bucket. On success the caller releases the place when the
// handshake fails or the connection ends.
func (t *sourceTable) admit(k netip.Addr, now time.Time) *sourceRefusal {
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[k]
	if e == nil {
		if len(sh.m) >= t.perShard && !t.evictLocked(sh, now) {
			return &sourceRefusal{"Too Many Requests", time.Second}
		}
		e = &source{}
		if t.rate > 0 {
			e.lim = rate.NewLimiter(t.rate, t.burst)
		}
		sh.m[k] = e
	}
	e.last = now
	if t.maxOpen > 0 && e.open >= t.maxOpen {
		return &sourceRefusal{"Too many connections from this address", DefaultSourceRetryAfter}
	}
	if e.lim != nil && !e.lim.AllowN(now, 1) {
		// The wait for the next token.
		d := time.Duration((1 - e.lim.TokensAt(now)) / float64(t.rate) * float64(time.Second))
		return &sourceRefusal{"Too Many Requests", d}
	}
	e.open++
	return nil
}

// release gives back k's place.
func (t *sourceTable) release(k netip.Addr, now time.Time) {
	sh := t.shard(k)
	sh.mu.Lock()
	if e := sh.m[k]; e != nil && e.open > 0 {
		e.open--
		e.last = now
	}
	sh.mu.Unlock()
}

// evictLocked makes room in a full shard: an entry without open
// connections whose bucket refilled, else the one of those idle longest,
// among up to evictSample entries (Go's map iteration starts at random);
// only when none of those can go is the whole shard scanned. It reports
// false when every entry has open connections.
func (t *sourceTable) evictLocked(sh *sourceShard, now time.Time) bool {
	var (
		oldest  netip.Addr
		oldestT time.Time
		found   bool
		seen    int
	)
	for k, e := range sh.m {
		seen++
		if e.open == 0 {
			if now.Sub(e.last) >= t.refill {
				delete(sh.m, k)
				return true
			}
			if !found || e.last.Before(oldestT) {
				oldest, oldestT, found = k, e.last, true
			}
		}
		if found && seen >= evictSample {
			break
		}
	}
	if found {
		delete(sh.m, oldest)
	}
	return found
}

// sweep forgets the sources without open connections whose bucket
// refilled: a new entry would be the same.
func (t *sourceTable) sweep(now time.Time) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.open == 0 && now.Sub(e.last) >= t.refill {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// len is the number of sources remembered.
func (t *sourceTable) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// retryAfter is the Retry-After header value of d: whole seconds, at
// least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

// releaseConn runs release once, when the connection is first closed: the
// hijacked connection of a WebSocket gives its source's place back so.
// Every connection holds one for its whole life, allocated with its byte
// counts (onClose).
type releaseConn struct {
	net.Conn
	released atomic.Bool
	release  func()
}

func (c *releaseConn) Close() error {
	if c.released.CompareAndSwap(false, true) {
		c.release()
	}
	return c.Conn.Close()
}

// releaseSyscallConn keeps the socket's syscall.Conn (writeDirect);
// onClose made sure Conn has one.
type releaseSyscallConn struct {
	releaseConn
}

func (c *releaseSyscallConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// onClose wraps nc so that release runs once when it is closed, and
// returns the connection's byte counts (conn.counts), allocated with the
// wrapper: one allocation of 48 bytes per connection, not two.
func onClose(nc net.Conn, release func()) (net.Conn, *connCounts) {
	if _, ok := nc.(syscall.Conn); ok {
		w := &struct {
			releaseSyscallConn
			counts connCounts
		}{releaseSyscallConn: releaseSyscallConn{releaseConn{Conn: nc, release: release}}}
		return &w.releaseSyscallConn, &w.counts
	}
	w := &struct {
		releaseConn
		counts connCounts
	}{releaseConn: releaseConn{Conn: nc, release: release}}
	return &w.releaseConn, &w.counts
}
