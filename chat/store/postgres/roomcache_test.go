package postgres

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// A room read once is served from memory: the join's GetRoom costs no
// round trip. A room not found is asked again (another node may create
// it), and a caller changing the Members it got changes nothing cached.
func TestGetRoomReadsOnce(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	a, b := open(t, url, fixed(t0)), open(t, url, fixed(t0))
	ctx := t.Context()
	if _, err := a.GetRoom(ctx, "t", "r"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRoom of no room: %v", err)
	}
	room := store.Room{TenantID: "t", RoomID: "r", Name: "n", CreatedBy: "u1", CreatedAt: t0, IsPrivate: true, Members: []string{"u1", "u2"}}
	must(t, b.CreateRoom(ctx, room))
	got, err := a.GetRoom(ctx, "t", "r")
	if err != nil || !reflect.DeepEqual(got, room) {
		t.Fatalf("GetRoom of a room another node created: %+v, %v; want %+v", got, err, room)
	}
	got.Members[0] = "changed by the caller"
	acquired := a.pool.Stat().AcquireCount()
	for range 3 {
		again, err := a.GetRoom(ctx, "t", "r")
		if err != nil || !reflect.DeepEqual(again, room) {
			t.Fatalf("GetRoom again: %+v, %v; want %+v", again, err, room)
		}
	}
	if n := a.pool.Stat().AcquireCount() - acquired; n != 0 {
		t.Errorf("GetRoom of a room read before acquired %d connections, want 0", n)
	}
	if _, err := a.GetRoom(ctx, "other tenant", "r"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRoom of the room in another tenant: %v", err)
	}
}

// The cache holds at most its cost: rooms' bytes (roomCost).
func TestRoomCacheBound(t *testing.T) {
	c := newRoomCache(100 * roomOverhead)
	for i := range 1000 {
		r := store.Room{TenantID: "t", RoomID: fmt.Sprint(i)}
		if i%3 == 0 {
			r.Members = make([]string, i%40)
		}
		c.put(r)
		c.put(r) // again: counted once
		if c.cost > c.max {
			t.Fatalf("after %d rooms: cost %d, bound %d", i+1, c.cost, c.max)
		}
		sum := 0
		for _, r := range c.rooms {
			sum += roomCost(r)
		}
		if sum != c.cost {
			t.Fatalf("after %d rooms: cost %d, rooms held cost %d", i+1, c.cost, sum)
		}
		if _, ok := c.get("t", r.RoomID); !ok {
			t.Fatalf("room %d not kept right after put", i)
		}
	}
	c.put(store.Room{TenantID: "t", RoomID: "huge", Members: make([]string, c.max/16)})
	if _, ok := c.get("t", "huge"); ok {
		t.Error("a room costlier than the bound was kept")
	}
	off := newRoomCache(0)
	off.put(store.Room{TenantID: "t", RoomID: "r"})
	if _, ok := off.get("t", "r"); ok {
		t.Error("a cache of bound 0 kept a room")
	}
}

// maxRoomCacheBytes is what the cache at DefaultRoomCacheCost may hold
// in memory at most, whatever its rooms: what a node spends on it.
const maxRoomCacheBytes = 64 << 20

// The cache's bound bounds its memory, with rooms as large as chat lets
// them be: a public room's name of 100 characters and description of 500
// (4-byte characters: 2.4 KB of text), a private room's 500 members of
// 128-byte ids. Counting a room as 1 plus its members, the default bound
// held 65,536 public rooms of 2.4 KB each: some 180 MB per node, for
// rooms that any user of a tenant can create (30 a minute) and pull into
// every node's cache (getOnlineUsers with their roomId). Not parallel: it
// measures the heap.
func TestRoomCacheMemoryBound(t *testing.T) {
	name := strings.Repeat("\U0001D11E", 100)
	desc := strings.Repeat("\U0001D11E", 500)
	member := strings.Repeat("m", 124)
	for _, kind := range []string{"public", "private"} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := newRoomCache(DefaultRoomCacheCost)
		for i := range 1 << 16 {
			r := store.Room{TenantID: "tenant", RoomID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
				Name: strings.Clone(name), Description: strings.Clone(desc), CreatedBy: "creator", CreatedAt: t0}
			if kind == "private" {
				if i >= 2000 {
					break // enough to fill it
				}
				r.Members = make([]string, 500)
				for j := range r.Members {
					r.Members[j] = fmt.Sprintf("%s%04d", member, j)
				}
			}
			c.put(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%s rooms: %d held, %.1f MB", kind, len(c.rooms), float64(held)/1e6)
		if held > maxRoomCacheBytes {
			t.Errorf("%s rooms: the cache holds %d rooms in %.1f MB, more than %d MB", kind, len(c.rooms), float64(held)/1e6, maxRoomCacheBytes>>20)
		}
		runtime.KeepAlive(c)
	}
}
