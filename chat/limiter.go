package chat

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limiterShards is how many independently locked maps a keyedLimiter
// spreads its keys over, so that connections of one process rarely wait
// for each other's lookups.
const limiterShards = 64

// minSweep is the shard size below which a shard is never swept.
const minSweep = 64

// minIdle is the least time a bucket is kept after its last use, so that
// the buckets of keys in use are not made again and again.
const minIdle = time.Minute

// keyedLimiter is a token bucket (golang.org/x/time/rate) per key: per
// connection, per tenant or per user. It holds the state of the process
// it runs in only: on AWS Lambda each instance counts for itself.
//
// Memory is bounded: a bucket unused long enough to be full again (and
// for at least minIdle) is forgotten — a fresh one behaves the same —,
// swept from a shard when the shard has doubled since its last sweep
// (O(1) amortized per event); and each shard holds at most
// maxKeys/limiterShards buckets, past which an arbitrary one is dropped
// (that key starts afresh). Lookups lock only the key's shard.
type keyedLimiter struct {
	limit    rate.Limit
	burst    int
	idle     time.Duration // unused this long: forgotten
	perShard int
	now      func() time.Time
	seed     maphash.Seed
	shards   [limiterShards]limiterShard
}

// bucket is one key's token bucket and when it was last used (UnixNano).
type bucket struct {
	*rate.Limiter
	last atomic.Int64
}

type limiterShard struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep int
	_         [40]byte // keep shards' locks on separate cache lines
}

// newKeyedLimiter returns buckets of perSecond tokens a second holding at
// most burst, remembering about maxKeys keys; nil (no limit) when
// perSecond is negative.
func newKeyedLimiter(perSecond float64, burst, maxKeys int, now func() time.Time) *keyedLimiter {
	if perSecond < 0 {
		return nil
	}
	refill := time.Duration(math.MaxInt64)
	if perSecond > 0 {
		refill = time.Duration(min(float64(max(burst, 1))/perSecond*float64(time.Second), float64(math.MaxInt64)))
	}
	l := &keyedLimiter{
		limit:    rate.Limit(perSecond),
		burst:    max(burst, 1),
		idle:     max(refill, minIdle),
		perShard: max(maxKeys/limiterShards, 1),
		now:      now,
		seed:     maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
		l.shards[i].nextSweep = minSweep
	}
	return l
}

// allow takes n tokens from key's bucket. When there are not enough, it
// takes none and returns how long until there would be (at least 1 ms).
// n above the burst counts as the burst, so that anything may pass a full
// bucket. A nil limiter allows everything.
func (l *keyedLimiter) allow(key string, n int) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	n = min(max(n, 1), l.burst)
	now := l.now()
	b := l.bucket(key, now)
	b.last.Store(now.UnixNano())
	if b.AllowN(now, n) {
		return true, 0
	}
	return false, l.wait(float64(n) - b.TokensAt(now))
}

// wait is how long the bucket takes to refill deficit tokens.
func (l *keyedLimiter) wait(deficit float64) time.Duration {
	if l.limit <= 0 {
		return time.Duration(math.MaxInt64)
	}
	d := time.Duration(math.Ceil(deficit / float64(l.limit) * float64(time.Second)))
	return max(d, time.Millisecond)
}

// bucket returns key's bucket, making it if needed.
func (l *keyedLimiter) bucket(key string, now time.Time) *bucket {
	sh := &l.shards[maphash.String(l.seed, key)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if b, ok := sh.buckets[key]; ok {
		return b
	}
	if len(sh.buckets) >= sh.nextSweep || len(sh.buckets) >= l.perShard {
		l.sweep(sh, now)
	}
	b := &bucket{Limiter: rate.NewLimiter(l.limit, l.burst)}
	sh.buckets[key] = b
	return b
}

// sweep forgets the idle buckets of sh, then, if sh is still at its
// bound, an arbitrary one. Called with sh.mu held.
func (l *keyedLimiter) sweep(sh *limiterShard, now time.Time) {
	idleSince := now.Add(-l.idle).UnixNano()
	for k, b := range sh.buckets {
		if b.last.Load() <= idleSince {
			delete(sh.buckets, k)
		}
	}
	for k := range sh.buckets {
		if len(sh.buckets) < l.perShard {
			break
		}
		delete(sh.buckets, k)
	}
	sh.nextSweep = max(minSweep, 2*len(sh.buckets))
}

// len returns how many buckets l holds (for tests).
func (l *keyedLimiter) len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}
