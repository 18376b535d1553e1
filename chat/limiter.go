package chat

import (
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterShards is how many independently locked maps a keyedLimiter
// spreads its keys over, so that connections of one process rarely wait
// for each other's lookups.
const limiterShards = 64

// minSweep is the shard size below which a shard is never swept.
const minSweep = 64

// keyedLimiter is a token bucket (golang.org/x/time/rate) per key: per
// connection, per tenant or per user. It holds the state of the process
// it runs in only: on AWS Lambda each instance counts for itself.
//
// Memory is bounded: a bucket that has been idle long enough to be full
// again is forgotten (a fresh one behaves the same), swept from a shard
// when the shard has doubled since its last sweep (O(1) amortized per
// event); and each shard holds at most maxKeys/limiterShards buckets, past
// which an arbitrary one is dropped (that key starts afresh). Lookups lock
// only the key's shard.
type keyedLimiter struct {
	limit    rate.Limit
	burst    int
	perShard int
	now      func() time.Time
	seed     maphash.Seed
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
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
	l := &keyedLimiter{
		limit:    rate.Limit(perSecond),
		burst:    max(burst, 1),
		perShard: max(maxKeys/limiterShards, 1),
		now:      now,
		seed:     maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*rate.Limiter{}
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
func (l *keyedLimiter) bucket(key string, now time.Time) *rate.Limiter {
	sh := &l.shards[maphash.String(l.seed, key)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if b, ok := sh.buckets[key]; ok {
		return b
	}
	if len(sh.buckets) >= sh.nextSweep || len(sh.buckets) >= l.perShard {
		l.sweep(sh, now)
	}
	b := rate.NewLimiter(l.limit, l.burst)
	sh.buckets[key] = b
	return b
}

// sweep forgets the full buckets of sh, then, if sh is still at its
// bound, an arbitrary one. Called with sh.mu held.
func (l *keyedLimiter) sweep(sh *limiterShard, now time.Time) {
	full := float64(l.burst)
	for k, b := range sh.buckets {
		if b.TokensAt(now) >= full {
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
