package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// PutMessage stores a message (a conditional PutItem: ErrExists if the id
// is taken in its tenant).
func (s *Store) PutMessage(ctx context.Context, m store.Message) error {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: put message %q of tenant %q: %w", m.MessageID, m.TenantID, err)
	}
	if m.MessageID == "" {
		return wrap(fmt.Errorf("empty message id"))
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.table, Item: messageItem(m),
		ConditionExpression:      aws.String(condNew),
		ExpressionAttributeNames: names(attrPK),
	})
	if failed, _ := conditionFailed(err); failed {
		err = store.ErrExists
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// GetMessage returns a message of the tenant (a consistent GetItem).
func (s *Store) GetMessage(ctx context.Context, tenantID, messageID string) (store.Message, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: key(messagePK(tenantID, messageID), skMeta), ConsistentRead: aws.Bool(true),
	})
	if err == nil && (len(out.Item) == 0 || item(out.Item).str(attrType) != typeMessage) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("dynamo: get message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return item(out.Item).message(), nil
}

// EditMessage replaces the content of userID's message and sets EditedAt
// with one conditional UpdateItem.
func (s *Store) EditMessage(ctx context.Context, tenantID, messageID, userID, content string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, tenantID, messageID, userID,
		"SET #content = :content, #editedAt = :at",
		map[string]types.AttributeValue{":content": str(content), ":at": num(at.UnixMilli())},
		attrContent, attrEditedAt)
	if err != nil {
		return store.Message{}, fmt.Errorf("dynamo: edit message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// DeleteMessage clears the content of userID's message, marks it deleted
// and sets EditedAt to at, with one conditional UpdateItem.
func (s *Store) DeleteMessage(ctx context.Context, tenantID, messageID, userID string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, tenantID, messageID, userID,
		"SET #content = :empty, #deleted = :true, #editedAt = :at",
		map[string]types.AttributeValue{":empty": str(""), ":true": boolean(true), ":at": num(at.UnixMilli())},
		attrContent, attrEditedAt)
	if err != nil {
		return store.Message{}, fmt.Errorf("dynamo: delete message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// changeMessage runs a conditional update of a message: it must exist, be
// userID's and not be deleted. When the condition fails, the item as it
// was (ReturnValuesOnConditionCheckFailure=ALL_OLD) tells why, without
// another read.
func (s *Store) changeMessage(ctx context.Context, tenantID, messageID, userID, update string,
	vals map[string]types.AttributeValue, attrs ...string) (store.Message, error) {
	vals[":user"] = str(userID)
	vals[":false"] = boolean(false)
	var out *dynamodb.UpdateItemOutput
	err := s.withRetry(ctx, func() error {
		var err error
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 key(messagePK(tenantID, messageID), skMeta),
			UpdateExpression:                    aws.String(update),
			ConditionExpression:                 aws.String("attribute_exists(#PK) AND #userId = :user AND #deleted = :false"),
			ExpressionAttributeNames:            names(append(attrs, attrPK, attrUser, attrDeleted)...),
			ExpressionAttributeValues:           vals,
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		return err
	})
	if failed, old := conditionFailed(err); failed {
		switch {
		case len(old) == 0 || old.str(attrType) != typeMessage:
			return store.Message{}, store.ErrNotFound
		case old.str(attrUser) != userID:
			return store.Message{}, store.ErrNotAuthor
		case old.bool(attrDeleted):
			return store.Message{}, store.ErrDeleted
		}
		return store.Message{}, fmt.Errorf("condition failed on %+v", old.message())
	}
	if err != nil {
		return store.Message{}, err
	}
	return item(out.Attributes).message(), nil
}

// ListMessages lists a room's messages, newest first (by MessageID): a
// Query of GSI1 from the cursor's message on, of one more message than
// the page holds.
func (s *Store) ListMessages(ctx context.Context, tenantID, roomID string, page store.Page) ([]store.Message, string, error) {
	wrap := func(err error) error {
		return fmt.Errorf("dynamo: list messages of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	in := &dynamodb.QueryInput{
		IndexName:                 aws.String(GSI1),
		KeyConditionExpression:    aws.String("#GSI1PK = :pk"),
		ExpressionAttributeNames:  names(attrGSI1PK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(roomMessagesPK(tenantID, roomID))},
		ScanIndexForward:          aws.Bool(false),
	}
	after, err := store.MessagesAfter(page.Cursor)
	if err != nil {
		return nil, "", wrap(err)
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#GSI1PK = :pk AND #GSI1SK < :before")
		in.ExpressionAttributeNames["#"+attrGSI1SK] = attrGSI1SK
		in.ExpressionAttributeValues[":before"] = str(after)
	}
	limit := page.Size()
	items, err := s.query(ctx, in, limit+1)
	if err != nil {
		return nil, "", wrap(err)
	}
	var msgs []store.Message
	for _, it := range items {
		msgs = append(msgs, it.message())
	}
	msgs, next := store.NextPage(msgs, limit, store.MessagesCursor)
	return msgs, next, nil
}
