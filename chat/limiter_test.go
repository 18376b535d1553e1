package chat

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration)      { c.ns.Add(int64(d)) }
func newFakeClock() *fakeClock                { c := &fakeClock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (l *keyedLimiter) allowed(k string) bool { ok, _ := l.allow(k, 1); return ok }

// TestKeyedLimiterBucket: a key gets its burst at once, then its rate; the
// retry hint says when the next token comes; keys do not share buckets;
// n above the burst passes a full bucket.
func TestKeyedLimiterBucket(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newKeyedLimiter(10, 5, 1000, clk.now)
	for i := range 5 {
		if !l.allowed("a") {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", 1)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("past the burst: allowed %v, retry after %v, want refused, 100ms", ok, wait)
	}
	if !l.allowed("b") {
		t.Fatal("another key shares the bucket")
	}
	clk.add(wait)
	if !l.allowed("a") {
		t.Fatal("refused after the retry hint's wait")
	}
	clk.add(time.Second)
	if ok, _ := l.allow("a", 1<<20); !ok {
		t.Fatal("n above the burst refused by a full bucket")
	}
	if off := newKeyedLimiter(-1, 5, 10, clk.now); off != nil || !off.allowed("x") {
		t.Fatal("a negative rate does not turn the limit off")
	}
}

// TestKeyedLimiterMemoryBound: keys unused for a while are forgotten as
// new ones come; however many keys come at once the limiter holds about
// maxKeys; a spent bucket in use is not forgotten.
func TestKeyedLimiterMemoryBound(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	// One new key every 10 ms for 200 s: those of the last minute (the
	// idle time) stay, about 6,000, and a shard is swept when it doubles.
	l := newKeyedLimiter(1, 2, 1<<20, clk.now)
	for i := range 20_000 {
		l.allowed("k" + strconv.Itoa(i))
		clk.add(10 * time.Millisecond)
	}
	if n := l.len(); n > 2*6000+limiterShards*minSweep {
		t.Fatalf("%d keys held: idle ones were not swept", n)
	}
	// Keys all in the same instant (none idle): still bounded.
	const maxKeys = limiterShards * 2 * minSweep
	l = newKeyedLimiter(1e-6, 2, maxKeys, clk.now)
	for i := range 20_000 {
		l.allowed("burst" + strconv.Itoa(i))
		if n := l.len(); n > maxKeys {
			t.Fatalf("%d keys held, bound %d", n, maxKeys)
		}
	}
	// A spent bucket in use survives sweeps.
	l = newKeyedLimiter(1e-6, 2, 1<<20, clk.now)
	l.allowed("busy")
	l.allowed("busy")
	for i := range 20_000 {
		l.allowed("other" + strconv.Itoa(i))
		clk.add(time.Millisecond)
	}
	if l.allowed("busy") {
		t.Fatal("a spent bucket in use was forgotten")
	}
}

// TestKeyedLimiterConcurrent: many goroutines on shared and own keys take
// exactly the burst of a key that never refills (run with -race).
func TestKeyedLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := newKeyedLimiter(1e-9, 1000, 1<<16, time.Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if l.allowed("shared") {
					allowed.Add(1)
				}
				l.allowed("own" + strconv.Itoa(g) + "-" + strconv.Itoa(i%50))
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 1000 {
		t.Fatalf("%d of 4000 allowed on a key of burst 1000", n)
	}
}

// BenchmarkLimiterAllow is the cost of one admission (what every action
// frame pays per limit), from all CPUs on 10,000 keys.
func BenchmarkLimiterAllow(b *testing.B) {
	l := newKeyedLimiter(DefaultActionRate, DefaultActionBurst, DefaultLimiterKeys, time.Now)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "conn-" + strconv.Itoa(i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			l.allow(keys[i%len(keys)], 1)
			i++
		}
	})
}
