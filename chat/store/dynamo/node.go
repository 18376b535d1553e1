package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeSweeper = (*Store)(nil)

// DeleteNodeConnections deletes up to limit connections of the node of
// prefix, each with DeleteConnection (a transaction conditional on the
// connection's existence: of two callers one deletes it, the other skips
// it), and returns their images (store.NodeSweeper). As with TTL
// deletions, each membership deleted stays in its user's hold item until
// ReleaseMembership (the cleanup handler's, which announces user_left for
// the user's last). Finding them is a
// Scan of the table (no index holds connections by id prefix): it runs
// once per dead node, never on a request path.
func (s *Store) DeleteNodeConnections(ctx context.Context, prefix string, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	ids, err := s.scanNodeConnections(ctx, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("dynamo: connections of node %q: %w", prefix, err)
	}
	var conns []store.Connection
	var members []store.Membership
	for _, id := range ids {
		c, ms, err := s.deleteConnection(ctx, id, false)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.NodeImages(conns, members), err
		}
		conns, members = append(conns, c), append(members, ms...)
	}
	return store.NodeImages(conns, members), nil
}

// scanNodeConnections returns up to limit ids of connections (their META
// items) whose id begins with prefix.
func (s *Store) scanNodeConnections(ctx context.Context, prefix string, limit int) ([]string, error) {
	in := &dynamodb.ScanInput{
		TableName:                s.table,
		ConsistentRead:           aws.Bool(true),
		FilterExpression:         aws.String("begins_with(#PK, :pk) AND #SK = :meta"),
		ProjectionExpression:     aws.String("#connectionId"),
		ExpressionAttributeNames: names(attrPK, attrSK, attrConnection),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(connPK(prefix)), ":meta": str(skMeta),
		},
	}
	var ids []string
	for {
		res, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			if id := item(it).str(attrConnection); id != "" {
				ids = append(ids, id)
				if len(ids) == limit {
					return ids, nil
				}
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return ids, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// dropMembership deletes m and its copy in one transaction, leaving its
// connection in the user's hold item for ReleaseMembership; found=false
// if m was not there any more. last is always false.
func (s *Store) dropMembership(ctx context.Context, m store.Membership) (last, found bool, err error) {
	err = s.transact(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: s.table, Key: key(roomPK(m.TenantID, m.RoomID), prefixMember+m.ConnectionID),
			ConditionExpression:      aws.String(condExists),
			ExpressionAttributeNames: names(attrPK),
		}},
		{Delete: &types.Delete{TableName: s.table, Key: key(connPK(m.ConnectionID), connRoomSK(m.TenantID, m.RoomID))}},
	})
	var te *txError
	if errors.As(err, &te) {
		if failed, _ := te.failed(0); failed {
			return false, false, nil
		}
	}
	return false, err == nil, err
}
