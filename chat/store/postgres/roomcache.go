package postgres

import (
	"slices"
	"sync"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// DefaultRoomCacheCost bounds the rooms GetRoom keeps in memory
// (Options.RoomCacheCost), in bytes as roomCost reckons them (within a few
// percent of the heap they take): 32 MiB, some 80,000 rooms of a short
// name and description, 12,000 public rooms as large as chat lets them be
// (a name of 100 and a description of 500 four-byte characters: 2.4 KB of
// text), or 460 private rooms of 500 members of 128-byte ids.
// (TestRoomCacheMemoryBound: counting a room as 1 plus its members, 65,536
// of them, the cache could hold 180 MB.)
const DefaultRoomCacheCost = 32 << 20

// roomCache keeps the rooms GetRoom read, so that the next GetRoom of the
// same room (every joinRoom reads its room first) asks the database
// nothing.
//
// It is the store's one cache, and it cannot be stale: a room never
// changes once created (no statement updates or deletes a row of rooms;
// a room id is a UUID, made once), so the row another node would read is
// the one cached. A room not found is not cached: another node may create
// it next. Past its cost bound, arbitrary rooms are evicted (the next
// GetRoom of one reads it again).
type roomCache struct {
	mu    sync.Mutex
	rooms map[roomKey]store.Room
	cost  int // of the rooms held: roomCost each
	max   int // 0: no cache
}

type roomKey struct{ tenant, room string }

func newRoomCache(max int) *roomCache {
	return &roomCache{rooms: map[roomKey]store.Room{}, max: max}
}

// roomOverhead is what a room takes in memory besides its strings' bytes
// (about): its map entry and key, the Room, its Members' slice.
const roomOverhead = 256

// roomCost is about the bytes a room takes in the cache: its strings, and
// a string header per member.
func roomCost(r store.Room) int {
	n := roomOverhead + len(r.TenantID) + len(r.RoomID) + len(r.Name) + len(r.Description) + len(r.CreatedBy)
	for _, m := range r.Members {
		n += 16 + len(m)
	}
	return n
}

// get returns a copy of a cached room (its own Members).
func (c *roomCache) get(tenantID, roomID string) (store.Room, bool) {
	if c.max <= 0 {
		return store.Room{}, false
	}
	c.mu.Lock()
	r, ok := c.rooms[roomKey{tenantID, roomID}]
	c.mu.Unlock()
	if ok && r.Members != nil {
		r.Members = slices.Clone(r.Members)
	}
	return r, ok
}

// put keeps a room read from the database (a copy of its Members),
// evicting others past the bound; a room costlier than the bound is not
// kept.
func (c *roomCache) put(r store.Room) {
	cost := roomCost(r)
	if cost > c.max {
		return
	}
	if r.Members != nil {
		r.Members = slices.Clone(r.Members)
	}
	k := roomKey{r.TenantID, r.RoomID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.rooms[k]; ok {
		c.cost -= roomCost(old)
		delete(c.rooms, k)
	}
	for victim, v := range c.rooms {
		if c.cost+cost <= c.max {
			break
		}
		c.cost -= roomCost(v)
		delete(c.rooms, victim)
	}
	c.rooms[k] = r
	c.cost += cost
}
