package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// AddConnection counts the user's live connections (CountUserConnections:
// one consistent Query) and stores c unless they are at limit
// (PutConnection). DynamoDB cannot make the two one request: concurrent
// calls for one user may each count without the others.
func (s *Store) AddConnection(ctx context.Context, c store.Connection, limit int) (int, error) {
	limit = max(limit, 0)
	before, err := s.CountUserConnections(ctx, c.TenantID, c.UserID, max(limit, 1))
	if err != nil {
		return 0, err
	}
	if limit > 0 && before >= limit {
		return before, fmt.Errorf("dynamo: add connection %q: %w", c.ConnectionID, store.ErrConnectionLimit)
	}
	return before, s.PutConnection(ctx, c)
}

// SendMessage writes the message in a transaction whose other item checks
// that the sender's membership is there and live (so a leave cannot slip
// between the check and the write), then reads the room's members (one
// consistent Query).
func (s *Store) SendMessage(ctx context.Context, connectionID string, m store.Message) (store.Members, error) {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: send message %q to room %q of tenant %q: %w", m.MessageID, m.RoomID, m.TenantID, err)
	}
	if m.MessageID == "" {
		return store.Members{}, wrap(errors.New("empty message id"))
	}
	err := s.transact(ctx, []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName: s.table, Key: key(roomPK(m.TenantID, m.RoomID), prefixMember+connectionID),
			ConditionExpression:       aws.String(condLive),
			ExpressionAttributeNames:  names(attrExpiresAtMs),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(s.nowMs())},
		}},
		{Put: &types.Put{
			TableName: s.table, Item: messageItem(m),
			ConditionExpression:      aws.String(condNew),
			ExpressionAttributeNames: names(attrPK),
		}},
	})
	var te *txError
	if errors.As(err, &te) {
		if failed, _ := te.failed(0); failed {
			err = store.ErrNotMember
		} else if failed, _ := te.failed(1); failed {
			err = store.ErrExists
		}
	}
	if err != nil {
		return store.Members{}, wrap(err)
	}
	members, err := s.RoomMembers(ctx, m.TenantID, m.RoomID)
	if err != nil {
		return store.Members{}, wrap(err)
	}
	return members, nil
}
