package chat

import (
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
)

// Error codes of error replies: those of package protocol, re-exported for
// the callers that name them here.
const (
	CodeInvalidJSON     = protocol.CodeInvalidJSON
	CodeInvalidRequest  = protocol.CodeInvalidRequest
	CodeUnknownAction   = protocol.CodeUnknownAction
	CodeRoomNotFound    = protocol.CodeRoomNotFound
	CodeForbidden       = protocol.CodeForbidden
	CodeNotInRoom       = protocol.CodeNotInRoom
	CodeRoomRequired    = protocol.CodeRoomRequired
	CodeMessageNotFound = protocol.CodeMessageNotFound
	CodeNotAuthor       = protocol.CodeNotAuthor
	CodeMessageDeleted  = protocol.CodeMessageDeleted
	CodeContentTooLarge = protocol.CodeContentTooLarge
	CodeInvalidCursor   = protocol.CodeInvalidCursor
	CodeRateLimited     = protocol.CodeRateLimited
	CodeInternal        = protocol.CodeInternal
)

// Broadcast types: those of package protocol, re-exported.
const (
	BroadcastMessage    = protocol.BroadcastMessage
	BroadcastUserJoined = protocol.BroadcastUserJoined
	BroadcastUserLeft   = protocol.BroadcastUserLeft
	BroadcastTyping     = protocol.BroadcastTyping
	BroadcastRoomUpdate = protocol.BroadcastRoomUpdate
	BroadcastPresence   = protocol.BroadcastPresence
)

// The wire types (package protocol) under the names the handlers use.
type (
	request     = protocol.Request
	reply       = protocol.Reply
	broadcast   = protocol.Broadcast
	messageView = protocol.Message
	roomView    = protocol.Room
	userView    = protocol.OnlineUser
)

// apiError is an error reply: a stable code and a message for people.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(code, msg string) *apiError { return &apiError{Code: code, Message: msg} }

// timestamp formats times the way every reply and broadcast carries them.
func timestamp(t time.Time) string { return protocol.FormatTime(t) }

// viewMessage is a message as clients see it.
func viewMessage(m store.Message) messageView {
	v := messageView{
		MessageID: m.MessageID, RoomID: m.RoomID, UserID: m.UserID, Username: m.Username,
		Content: m.Content, MessageType: m.MessageType, Timestamp: m.CreatedAt,
		Deleted: m.Deleted, ReplyToMessageID: m.ReplyToMessageID,
	}
	if !m.EditedAt.IsZero() {
		v.EditedAt = m.EditedAt
		v.Edited = !m.Deleted
	}
	return v
}

// viewRoom is a room as clients see it.
func viewRoom(r store.Room) roomView {
	return roomView{RoomID: r.RoomID, Name: r.Name, Description: r.Description, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, IsPrivate: r.IsPrivate, Members: r.Members}
}
