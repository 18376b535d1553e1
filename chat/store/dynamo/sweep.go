package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// DeleteExpired deletes up to limit expired connections and memberships
// (expiry not after now; limit <= 0 means DefaultLimit) and returns their
// images, as DynamoDB Streams carries them: memberships first, then
// connections, each oldest expiry first, so that the cleanup handler sees
// user_left before offline. Their copies (USERCONN, CONNROOM) go with
// them, without images; expired typing slots and copies left without
// their item are deleted too.
//
// It is not a request path and not for AWS: it Scans the whole table
// (DynamoDB Local, tests, a dev stack without TTL). On AWS, the table's
// TTL on expiresAt deletes expired items and the stream's REMOVE records
// reach the cleanup handler. Each deletion is conditional on the item
// still being expired, so an item touched meanwhile stays.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	nowMs := now.UnixMilli()
	expired, err := s.scanExpired(ctx, nowMs)
	if err != nil {
		return nil, fmt.Errorf("dynamo: delete expired: %w", err)
	}
	var members, conns, other []item
	primaries := map[string]bool{} // PK/SK of expired connections and memberships
	for _, it := range expired {
		switch it.str(attrType) {
		case typeMembership:
			members = append(members, it)
			primaries[itemKey(it)] = true
		case typeConnection:
			conns = append(conns, it)
			primaries[itemKey(it)] = true
		default:
			other = append(other, it)
		}
	}
	byExpiry := func(a, b item) int {
		ea, _ := a.expiresMs()
		eb, _ := b.expiresMs()
		return cmp.Compare(ea, eb)
	}
	slices.SortStableFunc(members, byExpiry)
	slices.SortStableFunc(conns, byExpiry)

	var imgs []store.Image
	for _, it := range append(members, conns...) {
		if len(imgs) == limit {
			break
		}
		old, err := s.deleteIfExpired(ctx, key(it.str(attrPK), it.str(attrSK)), nowMs)
		if err != nil {
			return imgs, fmt.Errorf("dynamo: delete expired: %w", err)
		}
		if old == nil {
			continue // touched or deleted meanwhile
		}
		imgs = append(imgs, old.image())
		// Its copy.
		var copyKey map[string]types.AttributeValue
		if old.str(attrType) == typeMembership {
			m := old.membership()
			copyKey = key(connPK(m.ConnectionID), connRoomSK(m.TenantID, m.RoomID))
		} else {
			c := old.connection()
			copyKey = key(userPK(c.TenantID, c.UserID), prefixConn+c.ConnectionID)
		}
		if _, err := s.deleteIfExpired(ctx, copyKey, nowMs); err != nil {
			return imgs, fmt.Errorf("dynamo: delete expired: %w", err)
		}
	}
	// Typing slots that limit nothing any more, and copies whose item is
	// gone (bounded by limit too).
	n := 0
	for _, it := range other {
		if n == limit {
			break
		}
		var owner string
		switch it.str(attrType) {
		case typeTyping:
		case typeConnRoom:
			m := it.membership()
			owner = roomPK(m.TenantID, m.RoomID) + "\x00" + prefixMember + m.ConnectionID
		case typeUserConn:
			owner = connPK(it.str(attrConnection)) + "\x00" + skMeta
		default:
			continue
		}
		if owner != "" && primaries[owner] {
			continue // goes with its item, in a later call
		}
		if _, err := s.deleteIfExpired(ctx, key(it.str(attrPK), it.str(attrSK)), nowMs); err != nil {
			return imgs, fmt.Errorf("dynamo: delete expired: %w", err)
		}
		n++
	}
	return imgs, nil
}

func itemKey(it item) string { return it.str(attrPK) + "\x00" + it.str(attrSK) }

// scanExpired scans the table (consistently) for items whose expiry is
// not after nowMs, with the attributes needed to choose and delete them.
func (s *Store) scanExpired(ctx context.Context, nowMs int64) ([]item, error) {
	in := &dynamodb.ScanInput{
		TableName:            s.table,
		ConsistentRead:       aws.Bool(true),
		FilterExpression:     aws.String("#expiresAtMs <= :now"),
		ProjectionExpression: aws.String("#PK, #SK, #type, #expiresAtMs, #tenantId, #roomId, #connectionId, #userId"),
		ExpressionAttributeNames: names(attrPK, attrSK, attrType, attrExpiresAtMs,
			attrTenant, attrRoom, attrConnection, attrUser),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs)},
	}
	var out []item
	for {
		res, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			out = append(out, item(it))
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// deleteIfExpired deletes an item if it is (still) expired at nowMs and
// returns it; nil if it was absent or live.
func (s *Store) deleteIfExpired(ctx context.Context, k map[string]types.AttributeValue, nowMs int64) (item, error) {
	var out *dynamodb.DeleteItemOutput
	err := s.withRetry(ctx, func() error {
		var err error
		out, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: s.table, Key: k,
			ConditionExpression:       aws.String("#expiresAtMs <= :now"),
			ExpressionAttributeNames:  names(attrExpiresAtMs),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs)},
			ReturnValues:              types.ReturnValueAllOld,
		})
		return err
	})
	if failed, _ := conditionFailed(err); failed {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(out.Attributes) == 0 {
		return nil, nil
	}
	return item(out.Attributes), nil
}
