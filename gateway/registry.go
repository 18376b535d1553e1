package gateway

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Connections reaches connections by id. The management API and in-process
// handlers use it; the gateway's registry implements it for the connections
// this process holds, and a clustered implementation can forward requests for
// ids held elsewhere.
type Connections interface {
	// Post sends data as one text frame. ErrGone if the connection is not
	// connected, ErrPayloadTooLarge if data is over the message limit.
	Post(ctx context.Context, id string, data []byte) error
	// Info describes a connection, or ErrGone.
	Info(ctx context.Context, id string) (ConnectionInfo, error)
	// Disconnect closes the connection with 1000; $disconnect follows.
	Disconnect(ctx context.Context, id string) error
}

// ConnectionInfo is what GET @connections/{id} returns.
type ConnectionInfo struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

const registryShards = 64

// registry is the set of open connections of this process, sharded so that
// no single lock is shared by every sender.
type registry struct {
	seed   maphash.Seed
	shards [registryShards]struct {
		mu sync.RWMutex
		m  map[string]*conn
		_  [40]byte // keep shards on separate cache lines
	}
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*conn)
	}
	return r
}

func (r *registry) shard(id string) int {
	return int(maphash.String(r.seed, id) % registryShards)
}

func (r *registry) add(c *conn) {
	sh := &r.shards[r.shard(c.meta.id)]
	sh.mu.Lock()
	sh.m[c.meta.id] = c
	sh.mu.Unlock()
}

func (r *registry) remove(c *conn) {
	sh := &r.shards[r.shard(c.meta.id)]
	sh.mu.Lock()
	if sh.m[c.meta.id] == c {
		delete(sh.m, c.meta.id)
	}
	sh.mu.Unlock()
}

func (r *registry) get(id string) *conn {
	sh := &r.shards[r.shard(id)]
	sh.mu.RLock()
	c := sh.m[id]
	sh.mu.RUnlock()
	return c
}

// each calls f for every connection, one shard at a time, without holding a
// shard's lock while f runs.
func (r *registry) each(f func(*conn)) {
	var batch []*conn
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		batch = batch[:0]
		for _, c := range sh.m {
			batch = append(batch, c)
		}
		sh.mu.RUnlock()
		for _, c := range batch {
			f(c)
		}
	}
}

func (r *registry) len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
