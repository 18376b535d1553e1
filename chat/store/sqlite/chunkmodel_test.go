package sqlite

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Random operations through the Store (joins, rejoins, leaves,
// heartbeats, disconnects, sweeps) on rooms that grow past several chunks
// and shrink again, at a clock that goes back and forth, against a model:
// after each, RoomMembers and CountRoomMembers list exactly the
// memberships live at the clock, and JoinRoom, LeaveRoom and
// TouchConnection answer as the model says. A reader meanwhile keeps the
// lists it was handed and checks that none ever changes (the chunks, the
// last partial chunk and the spine a broadcast holds are never written
// again), and -race checks that nothing it reads is written.
func TestChunkedRoomsMatchModel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	t0 := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var clock atomic.Int64
	clock.Store(t0)
	s := openTest(t, t.TempDir(), func() time.Time { return fromMs(clock.Load()) })
	rng := rand.New(rand.NewPCG(128, 7))
	rooms := []string{"big", "side"}
	conns := map[string]int64{}      // live or expired, not deleted: expiry (ms)
	members := map[[2]string]int64{} // (room, connection): expiry (ms)
	var ids []string                 // conns' keys
	expiry := func() int64 { return clock.Load() + int64(5+rng.IntN(800)) }

	// The reader: keeps what it was handed and checks it later.
	type held struct {
		ms  store.Members
		was []store.Membership
	}
	stop := make(chan struct{})
	var reader sync.WaitGroup
	var reads atomic.Int64
	reader.Go(func() {
		var kept []held
		check := func() bool {
			for _, h := range kept {
				if got := h.ms.Slice(); !slices.Equal(got, h.was) {
					t.Errorf("a RoomMembers handed out changed: %d members, was %d", len(got), len(h.was))
					return false
				}
			}
			return true
		}
		for {
			select {
			case <-stop:
				check()
				return
			default:
			}
			ms, err := s.RoomMembers(ctx, "t", "big")
			if err != nil {
				t.Error(err)
				return
			}
			reads.Add(1)
			was := ms.Slice()
			seen := make(map[string]bool, len(was))
			for _, m := range was {
				if m.ConnectionID == "" || seen[m.ConnectionID] {
					t.Errorf("RoomMembers listed %q twice or empty", m.ConnectionID)
					return
				}
				seen[m.ConnectionID] = true
			}
			kept = append(kept, held{ms, was})
			if len(kept) > 8 {
				kept = slices.Delete(kept, 0, 1)
			}
			if reads.Load()%8 == 0 && !check() {
				return
			}
		}
	})
	defer func() {
		close(stop)
		reader.Wait()
	}()

	next, most := 0, 0
	for step := range 4000 {
		now := clock.Load()
		// The rooms climb past three chunks and shrink, twice.
		grow := (step/1000)%2 == 0
		x := rng.IntN(100)
		switch {
		case x < 40 && grow || x < 10 || len(ids) == 0: // a new connection, joining
			id := fmt.Sprintf("c%05d", next)
			next++
			exp := expiry()
			must(t, s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: "u" + id, ConnectedAt: fromMs(now), ExpiresAt: fromMs(exp)}))
			conns[id] = exp
			ids = append(ids, id)
			fallthrough
		case x < 55: // a join, or a join again
			id := ids[rng.IntN(len(ids))]
			room := rooms[rng.IntN(3)/2] // big twice as often
			exp := expiry()
			j, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: room, ConnectionID: id, UserID: "u" + id, JoinedAt: fromMs(now), ExpiresAt: fromMs(exp)}, 0)
			cexp, ok := conns[id]
			mexp, in := members[[2]string{room, id}]
			switch {
			case !ok || cexp <= now:
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("step %d: JoinRoom(%s) of a connection gone or expired = %+v, %v", step, id, j, err)
				}
			case in && mexp > now:
				if err != nil || j.Joined {
					t.Fatalf("step %d: JoinRoom(%s, %s) again = %+v, %v; want not joined", step, id, room, j, err)
				}
			default:
				if err != nil || !j.Joined {
					t.Fatalf("step %d: JoinRoom(%s, %s) = %+v, %v; want joined", step, id, room, j, err)
				}
				members[[2]string{room, id}] = exp
			}
		case x < 70 && !grow || x < 62: // a leave
			id := ids[rng.IntN(len(ids))]
			room := rooms[rng.IntN(3)/2]
			k := [2]string{room, id}
			l, err := s.LeaveRoom(ctx, "t", room, id)
			mexp, in := members[k]
			if err != nil || l.Left != (in && mexp > now) {
				t.Fatalf("step %d: LeaveRoom(%s, %s) = %+v, %v; model: there %v, expiry %d, now %d", step, id, room, l, err, in, mexp, now)
			}
			delete(members, k)
		case x < 80: // a heartbeat
			id := ids[rng.IntN(len(ids))]
			exp := expiry()
			err := s.TouchConnection(ctx, id, fromMs(exp))
			if cexp, ok := conns[id]; !ok || cexp <= now {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("step %d: TouchConnection(%s) of a connection gone or expired: %v", step, id, err)
				}
				break
			}
			must(t, err)
			conns[id] = exp
			for _, room := range rooms {
				if mexp, in := members[[2]string{room, id}]; in && mexp > now {
					members[[2]string{room, id}] = exp
				}
			}
		case x < 90 && !grow || x < 84: // a disconnect
			j := rng.IntN(len(ids))
			id := ids[j]
			_, ms, err := s.DeleteConnection(ctx, id)
			if _, ok := conns[id]; !ok { // swept: its memberships stay until they expire
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("step %d: DeleteConnection(%s) of a swept connection: %v", step, id, err)
				}
				break
			}
			want := 0
			for _, room := range rooms {
				if _, in := members[[2]string{room, id}]; in {
					want++
					delete(members, [2]string{room, id})
				}
			}
			if err != nil || len(ms) != want {
				t.Fatalf("step %d: DeleteConnection(%s) = %d memberships, %v; want %d", step, id, len(ms), err, want)
			}
			delete(conns, id)
			ids[j] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
		case x < 93: // the sweep
			if _, err := s.DeleteExpired(ctx, fromMs(now), 100000); err != nil {
				t.Fatal(err)
			}
			for k, exp := range members {
				if exp <= now {
					delete(members, k)
				}
			}
			for id, exp := range conns {
				if exp <= now {
					delete(conns, id) // its memberships stay until they expire
				}
			}
		default: // the clock, mostly forward
			clock.Add(int64(rng.IntN(9) - 3))
		}
		// Every read lists exactly the live memberships.
		now = clock.Load()
		for _, room := range rooms {
			ms, err := s.RoomMembers(ctx, "t", room)
			must(t, err)
			var got, want []string
			for m := range ms.All() {
				got = append(got, m.ConnectionID)
			}
			for k, exp := range members {
				if k[0] == room && exp > now {
					want = append(want, k[1])
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: RoomMembers(%s) at %d: %d members, want %d live (%d in the model)\n got %q\nwant %q", step, room, now-t0, len(got), len(want), len(members), got, want)
			}
			if n, err := s.CountRoomMembers(ctx, "t", room, 1<<20); err != nil || n != len(want) {
				t.Fatalf("step %d: CountRoomMembers(%s) = %d, %v, want %d", step, room, n, err, len(want))
			}
			if room == "big" {
				most = max(most, len(got))
			}
		}
		if step%500 == 0 {
			// Connections the model holds are those the index holds.
			for id := range maps.Keys(conns) {
				if _, ok := s.idx.connEntryOf(id); !ok {
					t.Fatalf("step %d: connection %s lost", step, id)
				}
			}
		}
	}
	if most <= 2*memberChunk {
		t.Fatalf("the big room reached %d members only: the test did not cross chunks", most)
	}
	t.Logf("the big room reached %d members; the reader read it %d times", most, reads.Load())
}
