package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Random joins, rejoins, leaves, renewals and reads (which take the
// expired out of the list, at a clock that goes back and forth) of one
// room's list, around its chunks' boundaries: after each, every snapshot
// still held lists exactly what it listed when taken (a broadcast's
// recipients never change under it), a read's snapshot holds exactly the
// memberships live at its time, and the list and its expired hold what a
// model holds.
func TestRoomMembersSnapshotsNeverChange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(14, 3))
	r := newRoomMembers()
	model := map[string]int64{} // connection id -> expiry (ms)
	var ids []string            // model's keys
	type held struct {
		ms   store.Members
		want []store.Membership
	}
	var snaps []held
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	member := func(id string, exp int64) store.Membership {
		return normMember(store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "u" + id,
			JoinedAt: t0, ExpiresAt: fromMs(exp)})
	}
	expiry := func() int64 { return int64(1000 + rng.IntN(1000)) }
	next, most, reads := 0, 0, 0
	for step := range 8000 {
		// The size climbs to ~400 (past three chunks) and back to 0, four times.
		pAdd, pRemove := 0.55, 0.15
		if (step/1000)%2 == 1 {
			pAdd, pRemove = 0.15, 0.55
		}
		switch x := rng.Float64(); {
		case x < pAdd || len(model) == 0: // a join, as index.join
			id := fmt.Sprintf("c%05d", next)
			next++
			m := member(id, expiry())
			r.dropExpired(id)
			r.add(m)
			model[id] = ms(m.ExpiresAt)
			ids = append(ids, id)
			most = max(most, r.len())
		case x < pAdd+pRemove: // a leave, a disconnect or a sweep
			j := rng.IntN(len(ids))
			id := ids[j]
			ids[j] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			delete(model, id)
			if _, ok := r.forget(id); !ok {
				t.Fatalf("step %d: forget(%s) found nothing", step, id)
			}
		case x < pAdd+pRemove+0.1: // a join again or a renewal of one in the list
			id := ids[rng.IntN(len(ids))]
			p, ok := r.find(id)
			if !ok {
				continue
			}
			exp := expiry()
			if rng.IntN(2) == 0 {
				r.replace(p, member(id, exp))
			} else {
				r.setExpiry(p, exp)
			}
			model[id] = exp
		default: // a read
			now := int64(900 + rng.IntN(1200))
			r.liveOnly(now)
			ms := r.snapshot()
			got := ms.Slice()
			snaps = append(snaps, held{ms, got})
			if len(snaps) > 8 {
				snaps = slices.Delete(snaps, 0, 1)
			}
			want := 0
			for _, exp := range model {
				if exp > now {
					want++
				}
			}
			if len(got) != want {
				t.Fatalf("step %d: a read at %d got %d members, want the %d live", step, now, len(got), want)
			}
			for _, m := range got {
				if model[m.ConnectionID] <= now {
					t.Fatalf("step %d: a read at %d got %s, expiring at %d", step, now, m.ConnectionID, model[m.ConnectionID])
				}
			}
			reads++
		}
		for i, s := range snaps {
			if got := s.ms.Slice(); !slices.Equal(got, s.want) {
				t.Fatalf("step %d: snapshot %d changed: %d members, was %d", step, i, len(got), len(s.want))
			}
		}
		if r.len()+len(r.expired) != len(model) || len(r.pos) != r.len() || len(r.exps) != r.len() {
			t.Fatalf("step %d: %d members, %d expired, %d positions, %d expiries; want %d", step, r.len(), len(r.expired), len(r.pos), len(r.exps), len(model))
		}
		for p := range r.len() {
			m := r.at(p)
			if exp, ok := model[m.ConnectionID]; !ok || ms(m.ExpiresAt) != exp || r.pos[m.ConnectionID] != int32(p) {
				t.Fatalf("step %d: %s at %d expires %v (model %d, %v), position map %d", step, m.ConnectionID, p, m.ExpiresAt, exp, ok, r.pos[m.ConnectionID])
			}
			if _, ok := r.expired[m.ConnectionID]; ok {
				t.Fatalf("step %d: %s both in the list and expired", step, m.ConnectionID)
			}
		}
		for id, m := range r.expired {
			if exp, ok := model[id]; !ok || ms(m.ExpiresAt) != exp {
				t.Fatalf("step %d: expired %s expires %v (model %d, %v)", step, id, m.ExpiresAt, exp, ok)
			}
		}
		if need := (r.len() + memberChunk - 1) / memberChunk; len(r.chunks) > need+1 || len(r.chunks) < need {
			t.Fatalf("step %d: %d chunks for %d members", step, len(r.chunks), r.len())
		}
	}
	if most < 3*memberChunk || reads < 1000 {
		t.Fatalf("the list reached %d members only, %d reads: the test did not cross chunks", most, reads)
	}
}
