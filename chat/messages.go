package chat

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
)

func (s *Service) sendMessage(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.SendMessageInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	content, e := s.checkContent(in.Content)
	if e != nil {
		return nil, e
	}
	switch in.MessageType {
	case "":
		in.MessageType = store.MessageText
	case store.MessageText, store.MessageImage, store.MessageFile:
	case store.MessageSystem:
		return nil, errorf(protocol.CodeForbidden, "SYSTEM messages are sent by the server only")
	default:
		return nil, errorf(protocol.CodeInvalidRequest, "data.messageType must be TEXT, IMAGE or FILE")
	}
	const notIn = "join the room before sending to it"
	roomID := in.RoomID
	// With a roomId and no reply, the store checks the membership in the
	// same step as the write (SendMessage: one round trip on PostgreSQL);
	// otherwise the connection's rooms are read first, to resolve the room
	// or to check the membership before the replied-to message.
	if roomID == "" || in.ReplyToMessageID != "" {
		m, e := s.memberOf(ctx, r.id, roomID, notIn)
		if e != nil {
			return nil, e
		}
		roomID = m.RoomID
	} else if strings.ContainsRune(roomID, 0) {
		return nil, errorf(protocol.CodeNotInRoom, "%s", notIn) // no room has such an id; PostgreSQL refuses it in text
	}
	if in.ReplyToMessageID != "" {
		target, err := s.store.GetMessage(ctx, r.id.TenantID, in.ReplyToMessageID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && target.RoomID != roomID) {
			return nil, errorf(protocol.CodeMessageNotFound, "data.replyToMessageId is not a message of this room")
		} else if err != nil {
			return nil, s.internal(err)
		}
	}
	now := s.now()
	msg := store.Message{
		TenantID: r.id.TenantID, RoomID: roomID, MessageID: store.NewID(now), UserID: r.id.UserID, Username: r.id.Username,
		Content: content, MessageType: in.MessageType, CreatedAt: now, ReplyToMessageID: in.ReplyToMessageID,
	}
	members, err := s.store.SendMessage(ctx, r.id.ConnectionID, msg)
	if errors.Is(err, store.ErrNotMember) {
		return nil, errorf(protocol.CodeNotInRoom, "%s", notIn)
	} else if err != nil {
		return nil, s.internal(err)
	}
	view := viewMessage(msg)
	s.broadcastMembers(ctx, r.out, members, "", broadcast{Type: BroadcastMessage, RoomID: roomID, Data: view})
	return view, nil
}

// checkContent trims content and enforces the size limit.
func (s *Service) checkContent(content string) (string, *apiError) {
	content = strings.TrimSpace(content)
	if content == "" {
		return "", errorf(protocol.CodeInvalidRequest, "data.content is required and must not be blank")
	}
	if len(content) > s.cfg.MaxContentBytes {
		return "", errorf(protocol.CodeContentTooLarge, "data.content is %d bytes; the limit is %d", len(content), s.cfg.MaxContentBytes)
	}
	return content, nil
}

// broadcastRoom sends b to the connections in a room, except those of
// excludeUser (when not "").
func (s *Service) broadcastRoom(ctx context.Context, out *outbox, tenantID, roomID, excludeUser string, b broadcast) {
	ms, err := s.store.RoomMembers(ctx, tenantID, roomID)
	if err != nil {
		s.log.Warn("room broadcast", "roomId", roomID, "err", err)
		return
	}
	s.broadcastMembers(ctx, out, ms, excludeUser, b)
}

// broadcastMembers sends b to the connections of ms (a room's members),
// except those of excludeUser (when not ""). A message or typing broadcast
// to a room of more than Config.AnnounceMaxMembers connections says that
// the room's joins and leaves are not announced (announced: false): ms is
// read whole for the fan-out anyway, so its count costs nothing, and a
// member who kept the list from user_joined and user_left learns that it
// went stale (docs/protocol.md, "Lists that are not live").
func (s *Service) broadcastMembers(ctx context.Context, out *outbox, ms store.Members, excludeUser string, b broadcast) {
	if b.Type == BroadcastMessage || b.Type == BroadcastTyping {
		if limit := s.cfg.AnnounceMaxMembers; limit > 0 && ms.Len() > limit {
			b.Announced = new(false)
		}
	}
	ids := make([]string, 0, ms.Len())
	for k := range ms.NumChunks() { // not ms.All(): a closure, slower
		for _, m := range ms.Chunk(k) {
			if excludeUser == "" || m.UserID != excludeUser {
				ids = append(ids, m.ConnectionID)
			}
		}
	}
	out.broadcast(ctx, ids, b)
}

func (s *Service) editMessage(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.EditMessageInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	if e := required("messageId", in.MessageID); e != nil {
		return nil, e
	}
	content, e := s.checkContent(in.Content)
	if e != nil {
		return nil, e
	}
	msg, err := s.store.EditMessage(ctx, r.id.TenantID, in.MessageID, r.id.UserID, content, s.now())
	if e := messageError(err); e != nil {
		return nil, e
	} else if err != nil {
		return nil, s.internal(err)
	}
	view := viewMessage(msg)
	s.broadcastRoom(ctx, r.out, r.id.TenantID, msg.RoomID, "", broadcast{Type: BroadcastMessage, RoomID: msg.RoomID, Data: view})
	return view, nil
}

func (s *Service) deleteMessage(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.MessageInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	if e := required("messageId", in.MessageID); e != nil {
		return nil, e
	}
	msg, err := s.store.DeleteMessage(ctx, r.id.TenantID, in.MessageID, r.id.UserID, s.now())
	if e := messageError(err); e != nil {
		return nil, e
	} else if err != nil {
		return nil, s.internal(err)
	}
	view := viewMessage(msg)
	s.broadcastRoom(ctx, r.out, r.id.TenantID, msg.RoomID, "", broadcast{Type: BroadcastMessage, RoomID: msg.RoomID, Data: view})
	return view, nil
}

func messageError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(protocol.CodeMessageNotFound, "message not found")
	case errors.Is(err, store.ErrNotAuthor):
		return errorf(protocol.CodeNotAuthor, "only the author may change a message")
	case errors.Is(err, store.ErrDeleted):
		return errorf(protocol.CodeMessageDeleted, "the message was deleted")
	}
	return nil
}

func (s *Service) getRoomHistory(ctx context.Context, r *request) (any, *apiError) {
	var in struct {
		RoomID string   `json:"roomId"`
		Limit  *float64 `json:"limit"`
		Cursor *string  `json:"cursor"`
	}
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	room, e := s.room(ctx, r.id, in.RoomID)
	if e != nil {
		return nil, e
	}
	scope := historyScope(r.id.TenantID, room.RoomID)
	page, e := s.pageOf(scope, in.Limit, in.Cursor)
	if e != nil {
		return nil, e
	}
	read := func() ([]messageView, string, *apiError) {
		msgs, next, err := s.store.ListMessages(ctx, r.id.TenantID, room.RoomID, page)
		if errors.Is(err, store.ErrCursor) {
			return nil, "", errorf(protocol.CodeInvalidCursor, "data.cursor is not a cursor of this room's history")
		} else if err != nil {
			return nil, "", s.internal(err)
		}
		views := make([]messageView, 0, len(msgs))
		for _, m := range msgs {
			views = append(views, viewMessage(m))
		}
		return views, next, nil
	}
	views, next, e := fitPage(&page, read)
	if e != nil {
		return nil, e
	}
	return protocol.HistoryPage{RoomID: room.RoomID, Messages: views, Cursor: s.sealCursor(scope, next)}, nil
}

func (s *Service) typingStart(ctx context.Context, r *request) (any, *apiError) {
	return s.typing(ctx, r, true)
}

func (s *Service) typingStop(ctx context.Context, r *request) (any, *apiError) {
	return s.typing(ctx, r, false)
}

// typing tells a room's other users that someone is (no longer) typing.
// typingStart is rate limited per connection; typingStop is not, so that
// an indicator never sticks.
func (s *Service) typing(ctx context.Context, r *request, typing bool) (any, *apiError) {
	var in protocol.RoomInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	m, e := s.memberOf(ctx, r.id, in.RoomID, "join the room first")
	if e != nil {
		return nil, e
	}
	roomID := m.RoomID
	if typing {
		ok, err := s.store.TakeTypingSlot(ctx, r.id.ConnectionID, s.now(), s.cfg.TypingInterval)
		if err != nil {
			return nil, s.internal(err)
		}
		if !ok {
			return nil, errorf(protocol.CodeRateLimited, "at most one typing event per %v", s.cfg.TypingInterval)
		}
	}
	s.broadcastRoom(ctx, r.out, r.id.TenantID, roomID, r.id.UserID, broadcast{Type: BroadcastTyping, RoomID: roomID, Data: map[string]any{
		"userId": r.id.UserID, "username": r.id.Username, "isTyping": typing,
	}})
	return map[string]any{"roomId": roomID, "isTyping": typing}, nil
}

// heartbeat refreshes the connection's expiry (and its memberships'). A
// connection whose record expired while it stayed connected (a laptop
// asleep) is stored again, with the rooms the expired record still held:
// as long as the expiry was not processed nobody was told it left. Once it
// was (the cleanup handler announced user_left), those rooms are gone and
// the reply's rooms tells the client which it is in.
func (s *Service) heartbeat(ctx context.Context, r *request) (any, *apiError) {
	expires := s.now().Add(s.cfg.ConnectionTTL)
	err := s.store.TouchConnection(ctx, r.id.ConnectionID, expires)
	if errors.Is(err, store.ErrNotFound) {
		return s.restoreConnection(ctx, r)
	}
	if err != nil {
		return nil, s.internal(err)
	}
	return map[string]any{"expiresAt": timestamp(expires)}, nil
}

func (s *Service) restoreConnection(ctx context.Context, r *request) (any, *apiError) {
	_, memberships, err := s.store.DeleteConnection(ctx, r.id.ConnectionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.internal(err)
	}
	// The expired record was still there: its expiry was not processed,
	// nobody heard the user go offline, so nobody hears them come back.
	unnoticed := err == nil
	c := store.Connection{ConnectionID: r.id.ConnectionID, TenantID: r.id.TenantID, UserID: r.id.UserID, Username: r.id.Username}
	if err := s.storeConnection(ctx, r.out, c, !unnoticed); err != nil {
		return nil, s.internal(err)
	}
	stored, err := s.store.GetConnection(ctx, r.id.ConnectionID)
	if err != nil {
		return nil, s.internal(err)
	}
	rooms := []string{}
	for _, m := range memberships {
		m.ExpiresAt = time.Time{} // zero: the connection's (JoinRoom)
		if _, err := s.store.JoinRoom(ctx, m, 0); err != nil {
			s.log.Warn("restoring a membership after expiry", "connectionId", r.id.ConnectionID, "roomId", m.RoomID, "err", err)
			continue
		}
		rooms = append(rooms, m.RoomID)
	}
	return map[string]any{"expiresAt": timestamp(stored.ExpiresAt), "restored": true, "rooms": rooms}, nil
}
