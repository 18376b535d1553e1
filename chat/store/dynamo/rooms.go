package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// CreateRoom stores a room (conditionally: ErrExists if the id is taken
// in its tenant) and, for a private room, an access copy per member, in
// one transaction. A private room of more than 99 members has the other
// copies written after it, in batches; if that fails, the error says so
// and those members do not see the room in ListRooms (GetRoom still lists
// them as members).
func (s *Store) CreateRoom(ctx context.Context, r store.Room) error {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: create room %q of tenant %q: %w", r.RoomID, r.TenantID, err)
	}
	if at := r.CreatedAt.UnixMilli(); !validCreatedAt(at) {
		return wrap(fmt.Errorf("creation time %v out of range", r.CreatedAt))
	}
	room := roomItem(r)
	tx := []types.TransactWriteItem{{Put: &types.Put{
		TableName: s.table, Item: room,
		ConditionExpression:      aws.String(condNew),
		ExpressionAttributeNames: names(attrPK),
	}}}
	var rest []types.WriteRequest
	if r.IsPrivate {
		seen := make(map[string]bool, len(r.Members))
		for _, u := range r.Members {
			if seen[u] {
				continue
			}
			seen[u] = true
			access := accessItem(room, r, u)
			if len(tx) < maxTransactItems {
				tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: access}})
			} else {
				rest = append(rest, types.WriteRequest{PutRequest: &types.PutRequest{Item: access}})
			}
		}
	}
	err := s.transact(ctx, tx)
	var te *txError
	if errors.As(err, &te) {
		if failed, _ := te.failed(0); failed {
			err = store.ErrExists
		}
	}
	if err != nil {
		return wrap(err)
	}
	if err := s.batchWrite(ctx, rest); err != nil {
		return wrap(fmt.Errorf("room created, but access of %d of its members not written: %w", len(rest), err))
	}
	return nil
}

// batchWrite runs write requests with BatchWriteItem, 25 at a time,
// retrying unprocessed ones.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		pending := map[string][]types.WriteRequest{*s.table: reqs[:n]}
		reqs = reqs[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > s.retries {
					return fmt.Errorf("batch write: %d items left unprocessed", len(pending[*s.table]))
				}
				if err := backoff(ctx, attempt-1); err != nil {
					return err
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// GetRoom returns a room of the tenant (a consistent GetItem).
func (s *Store) GetRoom(ctx context.Context, tenantID, roomID string) (store.Room, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: key(roomPK(tenantID, roomID), skMeta), ConsistentRead: aws.Bool(true),
	})
	if err == nil && (len(out.Item) == 0 || item(out.Item).str(attrType) != typeRoom) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Room{}, fmt.Errorf("dynamo: get room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return item(out.Item).room(), nil
}

// ListRooms lists the rooms userID may see, newest first (by CreatedAt,
// then RoomID): public rooms from GSI1, the user's private rooms from
// GSI2 (their access copies), or both merged. Each Query reads at most one
// more item than the page holds, from the cursor's position on.
func (s *Store) ListRooms(ctx context.Context, tenantID, userID string, filter store.RoomFilter, page store.Page) ([]store.Room, string, error) {
	wrap := func(err error) error { return fmt.Errorf("dynamo: list rooms of tenant %q: %w", tenantID, err) }
	if filter != store.RoomsAll && filter != store.RoomsPublic && filter != store.RoomsPrivate {
		return nil, "", wrap(fmt.Errorf("unknown room filter %d", filter))
	}
	before := "" // the exclusive upper bound of the sort keys: none
	if page.Cursor != "" {
		at, id, err := store.RoomsAfter(page.Cursor)
		if err != nil {
			return nil, "", wrap(err)
		}
		if !validCreatedAt(at) {
			return nil, "", wrap(store.ErrCursor)
		}
		before = roomOrder(at, id)
	}
	limit := page.Size()
	list := func(index, pkAttr, skAttr, pk string) ([]item, error) {
		in := &dynamodb.QueryInput{
			IndexName:                 aws.String(index),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": pkAttr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
			ScanIndexForward:          aws.Bool(false),
		}
		if before != "" {
			in.KeyConditionExpression = aws.String("#pk = :pk AND #sk < :before")
			in.ExpressionAttributeNames["#sk"] = skAttr
			in.ExpressionAttributeValues[":before"] = str(before)
		}
		return s.query(ctx, in, limit+1)
	}
	var items []item
	if filter != store.RoomsPrivate {
		public, err := list(GSI1, attrGSI1PK, attrGSI1SK, tenantRoomsPK(tenantID))
		if err != nil {
			return nil, "", wrap(err)
		}
		items = append(items, public...)
	}
	if filter != store.RoomsPublic {
		private, err := list(GSI2, attrGSI2PK, attrGSI2SK, userRoomsPK(tenantID, userID))
		if err != nil {
			return nil, "", wrap(err)
		}
		items = append(items, private...)
	}
	rooms := make([]store.Room, 0, len(items))
	for _, it := range items {
		rooms = append(rooms, it.room())
	}
	// Merge: public and private rooms are disjoint, each list is sorted.
	order := func(r store.Room) string { return roomOrder(r.CreatedAt.UnixMilli(), r.RoomID) }
	slices.SortStableFunc(rooms, func(a, b store.Room) int { return strings.Compare(order(b), order(a)) })
	if len(rooms) <= limit {
		if len(rooms) == 0 {
			rooms = nil
		}
		return rooms, "", nil
	}
	rooms = rooms[:limit]
	last := rooms[limit-1]
	return rooms, store.RoomsCursor(last), nil
}
