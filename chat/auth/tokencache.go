package auth

import (
	"sync"
	"sync/atomic"
)

// tokenCache remembers the identities of verified tokens, by the token
// itself, up to max of them: past max it forgets them all (they are
// verified again on their next use). Reads take no lock (sync.Map: each
// token is written once and read by every connection presenting it). A
// nil cache remembers nothing.
type tokenCache struct {
	max int64
	n   atomic.Int64
	m   sync.Map // token → Identity
}

func newTokenCache(max int) *tokenCache { return &tokenCache{max: int64(max)} }

func (c *tokenCache) get(token string) (Identity, bool) {
	if c == nil {
		return Identity{}, false
	}
	v, ok := c.m.Load(token)
	if !ok {
		return Identity{}, false
	}
	return v.(Identity), true
}

func (c *tokenCache) put(token string, id Identity) {
	if c == nil {
		return
	}
	if c.n.Load() >= c.max {
		c.m.Clear()
		c.n.Store(0)
	}
	if _, loaded := c.m.LoadOrStore(token, id); !loaded {
		c.n.Add(1)
	}
}

func (c *tokenCache) forget(token string) {
	if c == nil {
		return
	}
	if _, loaded := c.m.LoadAndDelete(token); loaded {
		c.n.Add(-1)
	}
}
