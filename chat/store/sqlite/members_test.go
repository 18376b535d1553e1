package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Random joins, rejoins, leaves, renewals and snapshots of one room's
// list, around its chunks' boundaries: after each, every snapshot still
// held lists exactly what it listed when taken (a broadcast's recipients
// never change under it), the list holds what a model holds, and chunks
// that a snapshot may hold are never written where it reads.
func TestRoomMembersSnapshotsNeverChange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(14, 3))
	r := newRoomMembers()
	model := map[string]int64{} // connection id -> expiry (ms)
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
	next, most := 0, 0
	for step := range 8000 {
		// The size climbs to ~400 (past three chunks) and back to 0, four times.
		pAdd, pRemove := 0.55, 0.15
		if (step/1000)%2 == 1 {
			pAdd, pRemove = 0.15, 0.55
		}
		switch x := rng.Float64(); {
		case x < pAdd || len(model) == 0:
			id := fmt.Sprintf("c%05d", next)
			next++
			exp := int64(1000 + rng.IntN(1000))
			r.add(member(id, exp))
			model[id] = exp
			most = max(most, len(model))
		case x < pAdd+pRemove:
			p := rng.IntN(r.len())
			delete(model, r.get(p).ConnectionID)
			r.remove(p)
		case x < pAdd+pRemove+0.1:
			p := rng.IntN(r.len())
			id := r.get(p).ConnectionID
			exp := int64(1000 + rng.IntN(1000))
			if rng.IntN(2) == 0 {
				r.replace(p, member(id, exp))
			} else {
				r.setExpiry(p, exp)
			}
			model[id] = exp
		default:
			ms := r.snapshot()
			snaps = append(snaps, held{ms, ms.Slice()})
			if len(snaps) > 8 {
				snaps = slices.Delete(snaps, 0, 1)
			}
		}
		for i, s := range snaps {
			if got := s.ms.Slice(); !slices.Equal(got, s.want) {
				t.Fatalf("step %d: snapshot %d changed: %d members, was %d", step, i, len(got), len(s.want))
			}
		}
		if r.len() != len(model) || len(r.pos) != len(model) || len(r.exps) != len(model) {
			t.Fatalf("step %d: %d members, %d positions, %d expiries; want %d", step, r.len(), len(r.pos), len(r.exps), len(model))
		}
		for p := range r.len() {
			m := r.at(p)
			if exp, ok := model[m.ConnectionID]; !ok || ms(m.ExpiresAt) != exp || r.pos[m.ConnectionID] != int32(p) {
				t.Fatalf("step %d: %s at %d expires %v (model %d, %v), position map %d", step, m.ConnectionID, p, m.ExpiresAt, exp, ok, r.pos[m.ConnectionID])
			}
		}
		if need := (r.len() + memberChunk - 1) / memberChunk; len(r.chunks) > need+1 || len(r.chunks) < need {
			t.Fatalf("step %d: %d chunks for %d members", step, len(r.chunks), r.len())
		}
	}
	if most < 3*memberChunk {
		t.Fatalf("the room reached %d members only: the test did not cross chunks", most)
	}
}
