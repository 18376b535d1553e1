package chat

import (
	"fmt"
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
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
	envelope    = protocol.Request
	reply       = protocol.Reply
	broadcast   = protocol.Broadcast
	messageView = protocol.Message
	roomView    = protocol.Room
	userView    = protocol.OnlineUser
)

// apiError is an error reply: a stable code (one of package protocol's
// Code* constants) and a message for people. Handlers make them with
// errorf, or Service.internal for a failure whose details stay in the log.
type apiError struct {
	Code    string
	Message string
	// RetryAfter is the retry hint of a RATE_LIMITED reply.
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf returns the error reply code with the message format makes.
func errorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

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
