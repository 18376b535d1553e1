package storetest

import "github.com/switchboard-ws/switchboard/chat/store"

// roomMembers is RoomMembers of tenant's room, copied into a slice.
func (e *env) roomMembers(tenant, room string) ([]store.Membership, error) {
	ms, err := e.s.RoomMembers(e.ctx, tenant, room)
	return ms.Slice(), err
}
