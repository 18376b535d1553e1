package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const msgCols = `tenant_id, message_id, room_id, user_id, username, content, message_type, created_at, edited_at, deleted, reply_to`

const (
	qPutMessage = `INSERT INTO messages (` + msgCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant_id, message_id) DO NOTHING`
	qMessageAuthor = `SELECT user_id, deleted FROM messages WHERE tenant_id = $1 AND message_id = $2`
	qGetMessage    = `SELECT ` + msgCols + ` FROM messages WHERE tenant_id = $1 AND message_id = $2`
	// Keyset pagination on message_id, newest first: a message added
	// between two pages has a greater id and cannot shift the next page.
	qListMessages = `SELECT ` + msgCols + ` FROM messages
		WHERE tenant_id = $1 AND room_id = $2 AND message_id < $3
		ORDER BY message_id DESC LIMIT $4`
	qListMessagesFirst = `SELECT ` + msgCols + ` FROM messages
		WHERE tenant_id = $1 AND room_id = $2
		ORDER BY message_id DESC LIMIT $3`
	// Edit and delete check the author and the deleted flag in the same
	// statement that writes (a concurrent writer's row lock makes this one
	// wait, then re-check the condition against the new row).
	qEditMessage = `UPDATE messages SET content = $4, edited_at = $5
		WHERE tenant_id = $1 AND message_id = $2 AND user_id = $3 AND NOT deleted
		RETURNING ` + msgCols
	qDeleteMessage = `UPDATE messages SET content = '', deleted = true, edited_at = $4
		WHERE tenant_id = $1 AND message_id = $2 AND user_id = $3 AND NOT deleted
		RETURNING ` + msgCols
)

func scanMessage(r pgx.Row) (store.Message, error) {
	var m store.Message
	var content []byte
	var created int64
	var edited *int64
	if err := r.Scan(&m.TenantID, &m.MessageID, &m.RoomID, &m.UserID, &m.Username, &content, &m.MessageType,
		&created, &edited, &m.Deleted, &m.ReplyToMessageID); err != nil {
		return store.Message{}, err
	}
	m.Content, m.CreatedAt = string(content), fromMs(created)
	if edited != nil {
		m.EditedAt = fromMs(*edited)
	}
	return m, nil
}

func nullMs(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := ms(t)
	return &v
}

// PutMessage stores a new message (ErrExists if the id is taken in its
// tenant). It returns once the row is committed: the chat acknowledges a
// sendMessage only then.
func (s *Store) PutMessage(ctx context.Context, m store.Message) error {
	args := []any{m.TenantID, m.MessageID, m.RoomID, m.UserID, m.Username, []byte(m.Content), m.MessageType,
		ms(m.CreatedAt), nullMs(m.EditedAt), m.Deleted, m.ReplyToMessageID}
	tag, err := s.pool.Exec(ctx, qPutMessage, args...)
	retried := s.db.again(ctx, err)
	if retried {
		tag, err = s.pool.Exec(ctx, qPutMessage, args...)
	}
	if err != nil {
		return fmt.Errorf("postgres: put message %q of tenant %q: %w", m.MessageID, m.TenantID, err)
	}
	// A retry that finds the id taken found this message: the first
	// attempt committed before its connection was cut (message ids are
	// ULIDs, made once per message).
	if tag.RowsAffected() == 0 && !retried {
		return fmt.Errorf("postgres: put message %q of tenant %q: %w", m.MessageID, m.TenantID, store.ErrExists)
	}
	return nil
}

// GetMessage returns a message of the tenant; ErrNotFound otherwise.
func (s *Store) GetMessage(ctx context.Context, tenantID, messageID string) (store.Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, qGetMessage, tenantID, messageID))
	if noRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("postgres: get message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// EditMessage replaces the content of userID's message and sets EditedAt,
// in one conditional UPDATE.
func (s *Store) EditMessage(ctx context.Context, tenantID, messageID, userID, content string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, qEditMessage, tenantID, messageID, userID, []byte(content), ms(at))
	if err != nil {
		return store.Message{}, fmt.Errorf("postgres: edit message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// DeleteMessage clears the content of userID's message, marks it deleted
// and sets EditedAt to at, in one conditional UPDATE.
func (s *Store) DeleteMessage(ctx context.Context, tenantID, messageID, userID string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, qDeleteMessage, tenantID, messageID, userID, ms(at))
	if err != nil {
		return store.Message{}, fmt.Errorf("postgres: delete message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// changeMessage runs a conditional update of a message ($1 tenant, $2
// message, $3 author, then args) and, when it matched nothing, tells why.
func (s *Store) changeMessage(ctx context.Context, q, tenantID, messageID, userID string, args ...any) (store.Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, q, append([]any{tenantID, messageID, userID}, args...)...))
	if err == nil {
		return m, nil
	}
	if !noRows(err) {
		return store.Message{}, err
	}
	// Authors and deletions never change back, so what is read now (a new
	// statement: it sees every commit before it) is why the update
	// matched nothing.
	var author string
	var deleted bool
	err = s.db.QueryRow(ctx, qMessageAuthor, tenantID, messageID).Scan(&author, &deleted)
	switch {
	case noRows(err):
		return store.Message{}, store.ErrNotFound
	case err != nil:
		return store.Message{}, err
	case author != userID:
		return store.Message{}, store.ErrNotAuthor
	case deleted:
		return store.Message{}, store.ErrDeleted
	}
	return store.Message{}, store.ErrNotFound // stored after the update ran
}

// ListMessages lists a room's messages, newest first (by MessageID).
func (s *Store) ListMessages(ctx context.Context, tenantID, roomID string, page store.Page) ([]store.Message, string, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: list messages of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	after, err := store.MessagesAfter(page.Cursor)
	if err != nil {
		return nil, "", wrap(err)
	}
	limit := page.Size()
	var msgs []store.Message
	if after == "" {
		msgs, err = queryRows(ctx, s.db, scanMessage, qListMessagesFirst, tenantID, roomID, limit+1)
	} else {
		msgs, err = queryRows(ctx, s.db, scanMessage, qListMessages, tenantID, roomID, after, limit+1)
	}
	if err != nil {
		return nil, "", wrap(err)
	}
	msgs, next := store.NextPage(msgs, limit, store.MessagesCursor)
	return msgs, next, nil
}
