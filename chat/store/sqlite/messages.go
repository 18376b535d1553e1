package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const msgCols = `tenant_id, message_id, room_id, user_id, username, content, message_type, created_at, edited_at, deleted, reply_to`

const (
	qPutMessage = `INSERT INTO messages (` + msgCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, message_id) DO NOTHING`
	qMessageAuthor = `SELECT user_id, deleted FROM messages WHERE tenant_id = ?1 AND message_id = ?2`
	qGetMessage    = `SELECT ` + msgCols + ` FROM messages WHERE tenant_id = ?1 AND message_id = ?2`
	// Keyset pagination on message_id, newest first: a message added
	// between two pages has a greater id and cannot shift the next page.
	qListMessages = `SELECT ` + msgCols + ` FROM messages
		WHERE tenant_id = ?1 AND room_id = ?2 AND message_id < ?3
		ORDER BY message_id DESC LIMIT ?4`
	qListMessagesFirst = `SELECT ` + msgCols + ` FROM messages
		WHERE tenant_id = ?1 AND room_id = ?2
		ORDER BY message_id DESC LIMIT ?3`
	// Edit and delete check the author and the deleted flag in the same
	// statement that writes.
	qEditMessage = `UPDATE messages SET content = ?4, edited_at = ?5
		WHERE tenant_id = ?1 AND message_id = ?2 AND user_id = ?3 AND deleted = 0
		RETURNING ` + msgCols
	qDeleteMessage = `UPDATE messages SET content = '', deleted = 1, edited_at = ?4
		WHERE tenant_id = ?1 AND message_id = ?2 AND user_id = ?3 AND deleted = 0
		RETURNING ` + msgCols
)

func scanMessage(r scanner) (store.Message, error) {
	var m store.Message
	var created int64
	var edited sql.NullInt64
	var deleted int
	if err := r.Scan(&m.TenantID, &m.MessageID, &m.RoomID, &m.UserID, &m.Username, &m.Content, &m.MessageType,
		&created, &edited, &deleted, &m.ReplyToMessageID); err != nil {
		return store.Message{}, err
	}
	m.CreatedAt, m.Deleted = fromMs(created), deleted != 0
	if edited.Valid {
		m.EditedAt = fromMs(edited.Int64)
	}
	return m, nil
}

func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

// PutMessage stores a new message (ErrExists if the id is taken in its
// tenant).
func (s *Store) PutMessage(ctx context.Context, m store.Message) error {
	res, err := s.ws.exec(ctx, qPutMessage,
		m.TenantID, m.MessageID, m.RoomID, m.UserID, m.Username, m.Content, m.MessageType,
		ms(m.CreatedAt), nullMs(m.EditedAt), boolInt(m.Deleted), m.ReplyToMessageID)
	if err != nil {
		return fmt.Errorf("sqlite: put message %q of tenant %q: %w", m.MessageID, m.TenantID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put message %q of tenant %q: %w", m.MessageID, m.TenantID, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put message %q of tenant %q: %w", m.MessageID, m.TenantID, store.ErrExists)
	}
	return nil
}

// GetMessage returns a message of the tenant; ErrNotFound otherwise.
func (s *Store) GetMessage(ctx context.Context, tenantID, messageID string) (store.Message, error) {
	m, err := scanMessage(s.rs.queryRow(ctx, qGetMessage, tenantID, messageID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("sqlite: get message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// EditMessage replaces the content of userID's message and sets EditedAt,
// in one conditional UPDATE.
func (s *Store) EditMessage(ctx context.Context, tenantID, messageID, userID, content string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, qEditMessage, tenantID, messageID, userID, content, ms(at))
	if err != nil {
		return store.Message{}, fmt.Errorf("sqlite: edit message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// DeleteMessage clears the content of userID's message, marks it deleted
// and sets EditedAt to at, in one conditional UPDATE.
func (s *Store) DeleteMessage(ctx context.Context, tenantID, messageID, userID string, at time.Time) (store.Message, error) {
	m, err := s.changeMessage(ctx, qDeleteMessage, tenantID, messageID, userID, ms(at))
	if err != nil {
		return store.Message{}, fmt.Errorf("sqlite: delete message %q of tenant %q: %w", messageID, tenantID, err)
	}
	return m, nil
}

// changeMessage runs a conditional update of a message (?1 tenant, ?2
// message, ?3 author, then args) and, when it matched nothing, tells why.
func (s *Store) changeMessage(ctx context.Context, q, tenantID, messageID, userID string, args ...any) (store.Message, error) {
	m, err := scanMessage(s.ws.queryRow(ctx, q, append([]any{tenantID, messageID, userID}, args...)...))
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Message{}, err
	}
	// Authors and deletions never change back, so what is read now is why
	// the update matched nothing.
	var author string
	var deleted int
	err = s.rs.queryRow(ctx, qMessageAuthor, tenantID, messageID).Scan(&author, &deleted)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Message{}, store.ErrNotFound
	case err != nil:
		return store.Message{}, err
	case author != userID:
		return store.Message{}, store.ErrNotAuthor
	case deleted != 0:
		return store.Message{}, store.ErrDeleted
	}
	return store.Message{}, store.ErrNotFound // stored after the update ran
}

// ListMessages lists a room's messages, newest first (by MessageID).
func (s *Store) ListMessages(ctx context.Context, tenantID, roomID string, page store.Page) ([]store.Message, string, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: list messages of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	after, err := store.MessagesAfter(page.Cursor)
	if err != nil {
		return nil, "", wrap(err)
	}
	limit := page.Size()
	var msgs []store.Message
	if after == "" {
		msgs, err = queryAll(ctx, s.rs, scanMessage, qListMessagesFirst, tenantID, roomID, limit+1)
	} else {
		msgs, err = queryAll(ctx, s.rs, scanMessage, qListMessages, tenantID, roomID, after, limit+1)
	}
	if err != nil {
		return nil, "", wrap(err)
	}
	msgs, next := store.NextPage(msgs, limit, store.MessagesCursor)
	return msgs, next, nil
}
