package store

// Generated from the Store interface (one method each: time the call,
// count it under its operation). Regenerate when Store changes; the
// compile-time check in timed.go fails until then.

import (
	"context"
	"time"
)

// The operations Timed measures, in the order of timedOpNames.
type timedOp int

const (
	opPutConnection timedOp = iota
	opAddConnection
	opGetConnection
	opDeleteConnection
	opTouchConnection
	opUserConnections
	opCountUserConnections
	opTenantConnections
	opTakeTypingSlot
	opCreateRoom
	opGetRoom
	opListRooms
	opJoinRoom
	opLeaveRoom
	opReleaseMembership
	opCountRoomMembers
	opRoomMembers
	opConnectionRooms
	opPutMessage
	opSendMessage
	opGetMessage
	opEditMessage
	opDeleteMessage
	opListMessages
	numTimedOps
)

// timedOpNames are the operation label values of the store metrics.
var timedOpNames = [numTimedOps]string{"PutConnection", "AddConnection", "GetConnection", "DeleteConnection", "TouchConnection", "UserConnections", "CountUserConnections", "TenantConnections", "TakeTypingSlot", "CreateRoom", "GetRoom", "ListRooms", "JoinRoom", "LeaveRoom", "ReleaseMembership", "CountRoomMembers", "RoomMembers", "ConnectionRooms", "PutMessage", "SendMessage", "GetMessage", "EditMessage", "DeleteMessage", "ListMessages"}

// PutConnection implements Store, timed.
func (t *Timed) PutConnection(ctx context.Context, c Connection) error {
	start := time.Now()
	r0 := t.s.PutConnection(ctx, c)
	t.ops[opPutConnection].observe(time.Since(start), r0)
	return r0
}

// AddConnection implements Store, timed.
func (t *Timed) AddConnection(ctx context.Context, c Connection, limit int) (before int, err error) {
	start := time.Now()
	r0, r1 := t.s.AddConnection(ctx, c, limit)
	t.ops[opAddConnection].observe(time.Since(start), r1)
	return r0, r1
}

// GetConnection implements Store, timed.
func (t *Timed) GetConnection(ctx context.Context, connectionID string) (Connection, error) {
	start := time.Now()
	r0, r1 := t.s.GetConnection(ctx, connectionID)
	t.ops[opGetConnection].observe(time.Since(start), r1)
	return r0, r1
}

// DeleteConnection implements Store, timed.
func (t *Timed) DeleteConnection(ctx context.Context, connectionID string) (Connection, []Membership, error) {
	start := time.Now()
	r0, r1, r2 := t.s.DeleteConnection(ctx, connectionID)
	t.ops[opDeleteConnection].observe(time.Since(start), r2)
	return r0, r1, r2
}

// TouchConnection implements Store, timed.
func (t *Timed) TouchConnection(ctx context.Context, connectionID string, expiresAt time.Time) error {
	start := time.Now()
	r0 := t.s.TouchConnection(ctx, connectionID, expiresAt)
	t.ops[opTouchConnection].observe(time.Since(start), r0)
	return r0
}

// UserConnections implements Store, timed.
func (t *Timed) UserConnections(ctx context.Context, tenantID, userID string) ([]Connection, error) {
	start := time.Now()
	r0, r1 := t.s.UserConnections(ctx, tenantID, userID)
	t.ops[opUserConnections].observe(time.Since(start), r1)
	return r0, r1
}

// CountUserConnections implements Store, timed.
func (t *Timed) CountUserConnections(ctx context.Context, tenantID, userID string, max int) (int, error) {
	start := time.Now()
	r0, r1 := t.s.CountUserConnections(ctx, tenantID, userID, max)
	t.ops[opCountUserConnections].observe(time.Since(start), r1)
	return r0, r1
}

// TenantConnections implements Store, timed.
func (t *Timed) TenantConnections(ctx context.Context, tenantID string) ([]Connection, error) {
	start := time.Now()
	r0, r1 := t.s.TenantConnections(ctx, tenantID)
	t.ops[opTenantConnections].observe(time.Since(start), r1)
	return r0, r1
}

// TakeTypingSlot implements Store, timed.
func (t *Timed) TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error) {
	start := time.Now()
	r0, r1 := t.s.TakeTypingSlot(ctx, connectionID, now, interval)
	t.ops[opTakeTypingSlot].observe(time.Since(start), r1)
	return r0, r1
}

// CreateRoom implements Store, timed.
func (t *Timed) CreateRoom(ctx context.Context, r Room) error {
	start := time.Now()
	r0 := t.s.CreateRoom(ctx, r)
	t.ops[opCreateRoom].observe(time.Since(start), r0)
	return r0
}

// GetRoom implements Store, timed.
func (t *Timed) GetRoom(ctx context.Context, tenantID, roomID string) (Room, error) {
	start := time.Now()
	r0, r1 := t.s.GetRoom(ctx, tenantID, roomID)
	t.ops[opGetRoom].observe(time.Since(start), r1)
	return r0, r1
}

// ListRooms implements Store, timed.
func (t *Timed) ListRooms(ctx context.Context, tenantID, userID string, filter RoomFilter, page Page) (rooms []Room, nextCursor string, err error) {
	start := time.Now()
	r0, r1, r2 := t.s.ListRooms(ctx, tenantID, userID, filter, page)
	t.ops[opListRooms].observe(time.Since(start), r2)
	return r0, r1, r2
}

// JoinRoom implements Store, timed.
func (t *Timed) JoinRoom(ctx context.Context, m Membership, maxRooms int) (Join, error) {
	start := time.Now()
	r0, r1 := t.s.JoinRoom(ctx, m, maxRooms)
	t.ops[opJoinRoom].observe(time.Since(start), r1)
	return r0, r1
}

// LeaveRoom implements Store, timed.
func (t *Timed) LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (Leave, error) {
	start := time.Now()
	r0, r1 := t.s.LeaveRoom(ctx, tenantID, roomID, connectionID)
	t.ops[opLeaveRoom].observe(time.Since(start), r1)
	return r0, r1
}

// ReleaseMembership implements Store, timed.
func (t *Timed) ReleaseMembership(ctx context.Context, m Membership) (last bool, err error) {
	start := time.Now()
	r0, r1 := t.s.ReleaseMembership(ctx, m)
	t.ops[opReleaseMembership].observe(time.Since(start), r1)
	return r0, r1
}

// CountRoomMembers implements Store, timed.
func (t *Timed) CountRoomMembers(ctx context.Context, tenantID, roomID string, max int) (int, error) {
	start := time.Now()
	r0, r1 := t.s.CountRoomMembers(ctx, tenantID, roomID, max)
	t.ops[opCountRoomMembers].observe(time.Since(start), r1)
	return r0, r1
}

// RoomMembers implements Store, timed.
func (t *Timed) RoomMembers(ctx context.Context, tenantID, roomID string) (Members, error) {
	start := time.Now()
	r0, r1 := t.s.RoomMembers(ctx, tenantID, roomID)
	t.ops[opRoomMembers].observe(time.Since(start), r1)
	return r0, r1
}

// ConnectionRooms implements Store, timed.
func (t *Timed) ConnectionRooms(ctx context.Context, connectionID string) ([]Membership, error) {
	start := time.Now()
	r0, r1 := t.s.ConnectionRooms(ctx, connectionID)
	t.ops[opConnectionRooms].observe(time.Since(start), r1)
	return r0, r1
}

// PutMessage implements Store, timed.
func (t *Timed) PutMessage(ctx context.Context, m Message) error {
	start := time.Now()
	r0 := t.s.PutMessage(ctx, m)
	t.ops[opPutMessage].observe(time.Since(start), r0)
	return r0
}

// SendMessage implements Store, timed.
func (t *Timed) SendMessage(ctx context.Context, connectionID string, m Message) (Members, error) {
	start := time.Now()
	r0, r1 := t.s.SendMessage(ctx, connectionID, m)
	t.ops[opSendMessage].observe(time.Since(start), r1)
	return r0, r1
}

// GetMessage implements Store, timed.
func (t *Timed) GetMessage(ctx context.Context, tenantID, messageID string) (Message, error) {
	start := time.Now()
	r0, r1 := t.s.GetMessage(ctx, tenantID, messageID)
	t.ops[opGetMessage].observe(time.Since(start), r1)
	return r0, r1
}

// EditMessage implements Store, timed.
func (t *Timed) EditMessage(ctx context.Context, tenantID, messageID, userID, content string, at time.Time) (Message, error) {
	start := time.Now()
	r0, r1 := t.s.EditMessage(ctx, tenantID, messageID, userID, content, at)
	t.ops[opEditMessage].observe(time.Since(start), r1)
	return r0, r1
}

// DeleteMessage implements Store, timed.
func (t *Timed) DeleteMessage(ctx context.Context, tenantID, messageID, userID string, at time.Time) (Message, error) {
	start := time.Now()
	r0, r1 := t.s.DeleteMessage(ctx, tenantID, messageID, userID, at)
	t.ops[opDeleteMessage].observe(time.Since(start), r1)
	return r0, r1
}

// ListMessages implements Store, timed.
func (t *Timed) ListMessages(ctx context.Context, tenantID, roomID string, page Page) (msgs []Message, nextCursor string, err error) {
	start := time.Now()
	r0, r1, r2 := t.s.ListMessages(ctx, tenantID, roomID, page)
	t.ops[opListMessages].observe(time.Since(start), r2)
	return r0, r1, r2
}
