package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeLister = (*Store)(nil)

// nodePrefixLen is the length of a node prefix, in characters.
const nodePrefixLen = 4

// NodePrefixes returns the node prefixes of the connections in the index,
// expired ones included, in byte order, at most limit (store.NodeLister).
// It looks at every connection: it runs once per node, not per request.
func (s *Store) NodePrefixes(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: node prefixes: %w", err)
	}
	seen := map[string]bool{}
	for i := range s.idx.shards {
		sh := &s.idx.shards[i]
		sh.mu.Lock()
		for id := range sh.conns {
			seen[prefixOf(id)] = true
		}
		sh.mu.Unlock()
	}
	out := slices.Sorted(maps.Keys(seen))
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// prefixOf is the first nodePrefixLen characters of id (all of it if
// shorter), as SQL's substr(id, 1, 4) gave.
func prefixOf(id string) string {
	n := 0
	for i := range id {
		if n == nodePrefixLen {
			return id[:i]
		}
		n++
	}
	return id
}
