package dynamo

import (
	"hash/maphash"
	"sync"
)

// DefaultExpiryGuesses is how many connections' expiries a Store keeps
// as guesses for JoinRoom (about 50 bytes each beside the id, which is
// shared with the caller's string).
const DefaultExpiryGuesses = 1 << 16

// guessShards splits the guesses so that joins of different connections
// rarely meet at a lock.
const guessShards = 16

// expiryGuesses remembers the expiry (ms) this Store last wrote or read
// for each connection: a JoinRoom that takes the membership's expiry from
// its connection puts the guess in the membership and conditions its
// transaction on the connection item having it, so that it needs no read
// of the connection first. A wrong guess only costs a retry (the
// cancelled transaction returns the connection item); a missing one a
// consistent GetItem. When a shard is full it is emptied: a guess is
// never needed for correctness.
type expiryGuesses struct {
	seed   maphash.Seed
	max    int // per shard
	shards [guessShards]struct {
		mu sync.Mutex
		m  map[string]int64
	}
}

func newExpiryGuesses(total int) *expiryGuesses {
	g := &expiryGuesses{seed: maphash.MakeSeed(), max: max(total/guessShards, 1)}
	for i := range g.shards {
		g.shards[i].m = make(map[string]int64)
	}
	return g
}

func (g *expiryGuesses) shard(id string) int { return int(maphash.String(g.seed, id) % guessShards) }

func (g *expiryGuesses) get(id string) (int64, bool) {
	sh := &g.shards[g.shard(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ms, ok := sh.m[id]
	return ms, ok
}

func (g *expiryGuesses) put(id string, ms int64) {
	sh := &g.shards[g.shard(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[id]; !ok && len(sh.m) >= g.max {
		clear(sh.m)
	}
	sh.m[id] = ms
}

func (g *expiryGuesses) forget(id string) {
	sh := &g.shards[g.shard(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.m, id)
}
