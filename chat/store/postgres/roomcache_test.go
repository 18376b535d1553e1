package postgres

import (
	"errors"
	"fmt"
	"reflect"
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

// The cache holds at most its cost: rooms plus their members.
func TestRoomCacheBound(t *testing.T) {
	c := newRoomCache(100)
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
	c.put(store.Room{TenantID: "t", RoomID: "huge", Members: make([]string, 100)})
	if _, ok := c.get("t", "huge"); ok {
		t.Error("a room costlier than the bound was kept")
	}
	off := newRoomCache(0)
	off.put(store.Room{TenantID: "t", RoomID: "r"})
	if _, ok := off.get("t", "r"); ok {
		t.Error("a cache of bound 0 kept a room")
	}
}
