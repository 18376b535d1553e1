package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Holds (store.Join): a HOLD item per user and room, in the room's
// partition, holds in heldBy the set of connections by which the user
// holds memberships there. It is written in the same transaction as the
// membership, with a condition on the set as it was assumed to be: a
// join assumes the set absent (the user's first) or present; a removal
// assumes the connection is the set's only element (the last: the item is
// deleted), one of several, or not in it. A cancelled transaction returns
// the item as it was (ReturnValuesOnConditionCheckFailure), and is retried
// with what it says: of concurrent joins or leaves of one user, on any
// number of instances, exactly one moves the set from absent to present,
// or from present to absent. Set operations are idempotent, so a release
// delivered twice (a stream batch retried) changes nothing the second
// time.
//
// The hold item has no expiry: a membership deleted by TTL keeps its
// connection in the set until the cleanup handler releases it.

// holdState is what a removal assumes of the hold item.
type holdState int

const (
	holdLast   holdState = iota // the connection is the set's only element
	holdOthers                  // the connection is in the set, with others
	holdAbsent                  // the connection is not in the set
)

// holdStateOf is the state of the hold item it (nil: absent) for
// connection c.
func holdStateOf(it item, c string) holdState {
	set := it.strs(attrHeldBy)
	switch {
	case !slices.Contains(set, c):
		return holdAbsent
	case len(set) == 1:
		return holdLast
	}
	return holdOthers
}

func holdKey(m store.Membership) map[string]types.AttributeValue {
	return key(roomPK(m.TenantID, m.RoomID), holdSK(m.UserID))
}

// holdWrite adds m's connection to its hold item, assuming the set absent
// (first) or present.
func (s *Store) holdWrite(m store.Membership, first bool) types.TransactWriteItem {
	cond := "attribute_exists(#heldBy)"
	if first {
		cond = "attribute_not_exists(#heldBy)"
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                s.table,
		Key:                      holdKey(m),
		UpdateExpression:         aws.String("SET #type = :type, #tenantId = :tenant, #roomId = :room, #userId = :user ADD #heldBy :c"),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: names(attrType, attrTenant, attrRoom, attrUser, attrHeldBy),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":type": str(typeHold), ":tenant": str(m.TenantID), ":room": str(m.RoomID), ":user": str(m.UserID),
			":c": &types.AttributeValueMemberSS{Value: []string{m.ConnectionID}},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// releaseWrite removes m's connection from its hold item, assuming st.
func (s *Store) releaseWrite(m store.Membership, st holdState) types.TransactWriteItem {
	k, old := holdKey(m), types.ReturnValuesOnConditionCheckFailureAllOld
	c := str(m.ConnectionID)
	switch st {
	case holdLast:
		return types.TransactWriteItem{Delete: &types.Delete{
			TableName: s.table, Key: k,
			ConditionExpression:                 aws.String("contains(#heldBy, :c) AND size(#heldBy) = :one"),
			ExpressionAttributeNames:            names(attrHeldBy),
			ExpressionAttributeValues:           map[string]types.AttributeValue{":c": c, ":one": num(1)},
			ReturnValuesOnConditionCheckFailure: old,
		}}
	case holdOthers:
		return types.TransactWriteItem{Update: &types.Update{
			TableName: s.table, Key: k,
			UpdateExpression:         aws.String("DELETE #heldBy :cs"),
			ConditionExpression:      aws.String("contains(#heldBy, :c) AND size(#heldBy) > :one"),
			ExpressionAttributeNames: names(attrHeldBy),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":c": c, ":one": num(1), ":cs": &types.AttributeValueMemberSS{Value: []string{m.ConnectionID}},
			},
			ReturnValuesOnConditionCheckFailure: old,
		}}
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: s.table, Key: k,
		ConditionExpression:                 aws.String("attribute_not_exists(#heldBy) OR NOT contains(#heldBy, :c)"),
		ExpressionAttributeNames:            names(attrHeldBy),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":c": c},
		ReturnValuesOnConditionCheckFailure: old,
	}}
}

// errHoldContended: the hold item changed under every attempt.
var errHoldContended = errors.New("the user's hold of the room kept changing")

// JoinRoom writes the membership, unless a live one is there, its copy in
// the connection's partition and the connection into the user's hold item,
// in one transaction with a write of the connection item that checks it is
// there and live (ErrNotFound, nothing written, if it is not) and counts
// the join (attrJoins, on which TouchConnection's transaction is
// conditioned); Joined=false if the membership's condition fails; First if
// the hold item had no connection. The check orders the join and its
// connection's DeleteConnection (a transaction deleting the connection
// item, after which DeleteConnection reads the connection's partition
// consistently): the join either comes first, and DeleteConnection finds
// its copy, or finds no connection, so that no membership outlives its
// connection (a ghost).
//
// A zero m.ExpiresAt is the connection's: the store's guess of it
// (expiryGuesses; a consistent GetItem if it has none) goes into the
// membership, and the connection item's write is conditioned on having
// it. A wrong guess (a heartbeat of another instance moved it) cancels
// the transaction, which returns the connection item: the next attempt
// uses its expiry. A heartbeat that committed first has moved the
// connection's expiry, and one that commits after finds the join counted
// and reads the memberships again: either way the membership ends with
// the connection's expiry.
func (s *Store) JoinRoom(ctx context.Context, m store.Membership, maxRooms int) (store.Join, error) {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: join room %q of tenant %q: %w", m.RoomID, m.TenantID, err)
	}
	gone := func() (store.Join, error) {
		s.guesses.forget(m.ConnectionID)
		return store.Join{}, wrap(fmt.Errorf("connection %q: %w", m.ConnectionID, store.ErrNotFound))
	}
	guessed := m.ExpiresAt.IsZero()
	if guessed {
		exp, ok := s.guesses.get(m.ConnectionID)
		if !ok {
			c, err := s.GetConnection(ctx, m.ConnectionID)
			if errors.Is(err, store.ErrNotFound) {
				return gone()
			}
			if err != nil {
				return store.Join{}, wrap(err)
			}
			exp = c.ExpiresAt.UnixMilli()
		}
		m.ExpiresAt = fromMs(exp)
	}
	first := true
	for range s.retries {
		now := num(s.nowMs())
		room := connRoomSK(m.TenantID, m.RoomID)
		connCond, connVals := condExists+" AND "+condLive, map[string]types.AttributeValue{
			":now": now, ":one": num(1), ":rooms": &types.AttributeValueMemberSS{Value: []string{room}},
		}
		if guessed {
			connCond += " AND #expiresAtMs = :exp"
			connVals[":exp"] = num(m.ExpiresAt.UnixMilli())
		}
		if maxRooms > 0 {
			connCond += " AND (attribute_not_exists(#rooms) OR size(#rooms) < :max OR contains(#rooms, :room))"
			connVals[":max"], connVals[":room"] = num(int64(maxRooms)), str(room)
		}
		err := s.transact(ctx, []types.TransactWriteItem{
			{Put: &types.Put{
				TableName: s.table, Item: membershipItem(m),
				ConditionExpression:       aws.String(condNewOrGone),
				ExpressionAttributeNames:  names(attrPK, attrExpiresAtMs),
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": now},
			}},
			{Put: &types.Put{TableName: s.table, Item: connRoomItem(m)}},
			s.holdWrite(m, first),
			{Update: &types.Update{
				TableName: s.table, Key: key(connPK(m.ConnectionID), skMeta),
				UpdateExpression:                    aws.String("ADD #joins :one, #rooms :rooms"),
				ConditionExpression:                 aws.String(connCond),
				ExpressionAttributeNames:            names(attrPK, attrExpiresAtMs, attrJoins, attrRooms),
				ExpressionAttributeValues:           connVals,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
		})
		var te *txError
		if !errors.As(err, &te) {
			if err != nil {
				return store.Join{}, wrap(err)
			}
			if guessed {
				s.guesses.put(m.ConnectionID, m.ExpiresAt.UnixMilli())
			}
			return store.Join{Joined: true, First: first}, nil
		}
		if failed, old := te.failed(3); failed {
			if len(old) == 0 || old.str(attrType) != typeConnection || !old.live(s.nowMs()) {
				return gone()
			}
			exp, _ := old.expiresMs()
			if !guessed || exp == m.ExpiresAt.UnixMilli() {
				if rooms := old.strs(attrRooms); maxRooms > 0 && len(rooms) >= maxRooms && !slices.Contains(rooms, room) {
					// The set may still name rooms whose membership
					// expired or was deleted (TTL) while the connection
					// lived: take them out and try again.
					pruned, err := s.pruneRooms(ctx, m.ConnectionID)
					if err != nil {
						return store.Join{}, wrap(err)
					}
					if pruned {
						continue
					}
					return store.Join{}, wrap(fmt.Errorf("connection %q in %d rooms: %w", m.ConnectionID, len(rooms), store.ErrRoomLimit))
				}
				return store.Join{}, wrap(err) // live, yet its condition failed: a clock moved
			}
			// The guess was wrong: again, with the connection's expiry.
			s.guesses.put(m.ConnectionID, exp)
			m.ExpiresAt = fromMs(exp)
			continue
		}
		if failed, _ := te.failed(0); failed {
			return store.Join{}, nil // a live membership is there
		}
		failed, old := te.failed(2)
		if !failed {
			return store.Join{}, wrap(err)
		}
		first = len(old.strs(attrHeldBy)) == 0
	}
	return store.Join{}, wrap(errHoldContended)
}

// pruneRooms takes out of the connection's set of rooms (attrRooms) those
// with no live membership: expired, or deleted by TTL (or DeleteExpired)
// while the connection lived, which LeaveRoom and DeleteConnection never
// saw. It reads the connection's partition (consistently) and updates the
// connection item on the condition that neither its joins nor its expiry
// changed since (a join of one of those rooms, or a heartbeat that renewed
// their memberships, came between: pruned, so that the join is tried
// again), and counts the update as a join, so that a heartbeat that read
// the partition before it reads it again rather than renew a membership
// the set no longer names. pruned=false: nothing to take out (or the
// connection is gone), the set is right.
func (s *Store) pruneRooms(ctx context.Context, connectionID string) (pruned bool, err error) {
	now := s.nowMs()
	ci, err := s.readConnection(ctx, connectionID)
	if err != nil || ci.meta == nil {
		return false, err
	}
	live := make(map[string]bool, len(ci.rooms))
	for _, r := range ci.rooms {
		if r.live(now) {
			live[r.str(attrSK)] = true
		}
	}
	var stale []string
	for _, r := range ci.meta.strs(attrRooms) {
		if !live[r] {
			stale = append(stale, r)
		}
	}
	joins, ok := ci.meta.num(attrJoins)
	exp, _ := ci.meta.expiresMs()
	if len(stale) == 0 || !ok {
		return false, nil
	}
	err = s.withRetry(ctx, func() error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: s.table, Key: key(connPK(connectionID), skMeta),
			UpdateExpression:         aws.String("DELETE #rooms :stale ADD #joins :one"),
			ConditionExpression:      aws.String("#joins = :joins AND #expiresAtMs = :exp"),
			ExpressionAttributeNames: names(attrRooms, attrJoins, attrExpiresAtMs),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":stale": &types.AttributeValueMemberSS{Value: stale},
				":one":   num(1), ":joins": num(joins), ":exp": num(exp),
			},
		})
		return err
	})
	if failed, _ := conditionFailed(err); failed {
		return true, nil // changed meanwhile: the join again says what it is now
	}
	return err == nil, err
}

// LeaveRoom reads the membership (whose it is), then deletes it, its copy
// and the connection from the user's hold item in one transaction. Left
// if it was live when read; an expired one is deleted all the same.
func (s *Store) LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (store.Leave, error) {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: leave room %q of tenant %q: %w", roomID, tenantID, err)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: key(roomPK(tenantID, roomID), prefixMember+connectionID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Leave{}, wrap(err)
	}
	it := item(out.Item)
	if len(it) == 0 {
		return store.Leave{}, nil
	}
	m := it.membership()
	last, found, err := s.removeMembership(ctx, m)
	if err != nil {
		return store.Leave{}, wrap(err)
	}
	if !found { // removed meanwhile (DeleteConnection, another leave): that call reports it
		return store.Leave{}, nil
	}
	return store.Leave{Left: it.live(s.nowMs()), Last: last}, nil
}

// removeMembership deletes m, its copy and its hold in one transaction;
// found=false if m was not there any more.
func (s *Store) removeMembership(ctx context.Context, m store.Membership) (last, found bool, err error) {
	st := holdLast
	connGone := false // the connection item is gone: no set to take the room from
	for range s.retries {
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName: s.table, Key: key(roomPK(m.TenantID, m.RoomID), prefixMember+m.ConnectionID),
				ConditionExpression:      aws.String(condExists),
				ExpressionAttributeNames: names(attrPK),
			}},
			{Delete: &types.Delete{TableName: s.table, Key: key(connPK(m.ConnectionID), connRoomSK(m.TenantID, m.RoomID))}},
			s.releaseWrite(m, st),
		}
		if !connGone {
			items = append(items, types.TransactWriteItem{Update: &types.Update{
				TableName: s.table, Key: key(connPK(m.ConnectionID), skMeta),
				UpdateExpression:         aws.String("DELETE #rooms :rooms"),
				ConditionExpression:      aws.String(condExists),
				ExpressionAttributeNames: names(attrPK, attrRooms),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":rooms": &types.AttributeValueMemberSS{Value: []string{connRoomSK(m.TenantID, m.RoomID)}},
				},
			}})
		}
		err := s.transact(ctx, items)
		var te *txError
		if !errors.As(err, &te) {
			return err == nil && st == holdLast, err == nil, err
		}
		if failed, _ := te.failed(0); failed {
			return false, false, nil
		}
		if failed, _ := te.failed(3); failed && !connGone {
			connGone = true
			if failed, old := te.failed(2); failed {
				st = holdStateOf(old, m.ConnectionID)
			}
			continue
		}
		failed, old := te.failed(2)
		if !failed {
			return false, false, err
		}
		st = holdStateOf(old, m.ConnectionID)
	}
	return false, false, errHoldContended
}

// ReleaseMembership removes the connection of a membership TTL (or
// DeleteExpired) deleted from the user's hold item, in a transaction with
// a check that the connection has no membership of the room (the one
// released is gone): one there is a join again, before this release, that
// took over the hold (JoinRoom finds the connection in the set and adds
// nothing), which its leave or DeleteConnection releases; then nothing is
// released. The last one deletes the hold item.
func (s *Store) ReleaseMembership(ctx context.Context, m store.Membership) (bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: release membership of %q in room %q of tenant %q: %w", m.ConnectionID, m.RoomID, m.TenantID, err)
	}
	st := holdLast
	for range s.retries {
		if st == holdAbsent {
			return false, nil
		}
		err := s.transact(ctx, []types.TransactWriteItem{
			s.releaseWrite(m, st),
			{ConditionCheck: &types.ConditionCheck{
				TableName: s.table, Key: key(roomPK(m.TenantID, m.RoomID), prefixMember+m.ConnectionID),
				ConditionExpression:      aws.String(condNew),
				ExpressionAttributeNames: names(attrPK),
			}},
		})
		var te *txError
		if !errors.As(err, &te) {
			if err != nil {
				return false, wrap(err)
			}
			return st == holdLast, nil
		}
		if failed, _ := te.failed(1); failed {
			return false, nil // joined again: that membership holds the room now
		}
		failed, old := te.failed(0)
		if !failed {
			return false, wrap(err)
		}
		st = holdStateOf(old, m.ConnectionID)
	}
	return false, wrap(errHoldContended)
}

// CountRoomMembers counts a room's live memberships up to max: a
// consistent Query of the room's MEMBER# items with Select COUNT and
// Limit, paged as CountUserConnections pages.
func (s *Store) CountRoomMembers(ctx context.Context, tenantID, roomID string, limit int) (int, error) {
	n, err := s.countLive(ctx, roomPK(tenantID, roomID), prefixMember, limit)
	if err != nil {
		return 0, fmt.Errorf("dynamo: count members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return n, nil
}
