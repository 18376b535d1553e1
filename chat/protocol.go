package chat

import (
	"encoding/json"
	"time"

	"github.com/switchboard-ws/switchboard/store"
)

// Error codes of error replies: stable, for programs; the error text is for people.
const (
	CodeInvalidJSON     = "INVALID_JSON"
	CodeInvalidRequest  = "INVALID_REQUEST"
	CodeUnknownAction   = "UNKNOWN_ACTION"
	CodeRoomNotFound    = "ROOM_NOT_FOUND"
	CodeForbidden       = "FORBIDDEN"
	CodeNotInRoom       = "NOT_IN_ROOM"
	CodeRoomRequired    = "ROOM_REQUIRED"
	CodeMessageNotFound = "MESSAGE_NOT_FOUND"
	CodeNotAuthor       = "NOT_AUTHOR"
	CodeMessageDeleted  = "MESSAGE_DELETED"
	CodeContentTooLarge = "CONTENT_TOO_LARGE"
	CodeInvalidCursor   = "INVALID_CURSOR"
	CodeRateLimited     = "RATE_LIMITED"
	CodeInternal        = "INTERNAL_ERROR"
)

// Broadcast types.
const (
	BroadcastMessage    = "message"
	BroadcastUserJoined = "user_joined"
	BroadcastUserLeft   = "user_left"
	BroadcastTyping     = "typing"
	BroadcastRoomUpdate = "room_update"
	BroadcastPresence   = "presence"
)

// request is what a client sends.
type request struct {
	Action    string          `json:"action"`
	Data      json.RawMessage `json:"data"`
	RequestID string          `json:"requestId"`
}

// reply answers one request.
type reply struct {
	Type      string `json:"type"` // success | error
	Data      any    `json:"data,omitempty"`
	Error     string `json:"error,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Timestamp string `json:"timestamp"`
}

// broadcast is pushed to the members of a room or a tenant.
type broadcast struct {
	Type      string `json:"type"`
	RoomID    string `json:"roomId,omitempty"`
	Data      any    `json:"data"`
	Timestamp string `json:"timestamp"`
}

// apiError is an error reply: a stable code and a message for people.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(code, msg string) *apiError { return &apiError{Code: code, Message: msg} }

// timestamp formats times the way every reply and broadcast carries them.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// messageView is a message as clients see it.
type messageView struct {
	MessageID        string `json:"messageId"`
	RoomID           string `json:"roomId"`
	UserID           string `json:"userId"`
	Username         string `json:"username"`
	Content          string `json:"content"`
	MessageType      string `json:"messageType"`
	Timestamp        string `json:"timestamp"`
	EditedAt         string `json:"editedAt,omitempty"`
	Edited           bool   `json:"edited,omitempty"`
	Deleted          bool   `json:"deleted,omitempty"`
	ReplyToMessageID string `json:"replyToMessageId,omitempty"`
}

func viewMessage(m store.Message) messageView {
	v := messageView{
		MessageID: m.MessageID, RoomID: m.RoomID, UserID: m.UserID, Username: m.Username,
		Content: m.Content, MessageType: m.MessageType, Timestamp: timestamp(m.CreatedAt),
		Deleted: m.Deleted, ReplyToMessageID: m.ReplyToMessageID,
	}
	if !m.EditedAt.IsZero() {
		v.EditedAt = timestamp(m.EditedAt)
		v.Edited = !m.Deleted
	}
	return v
}

// roomView is a room as clients see it.
type roomView struct {
	RoomID      string   `json:"roomId"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	CreatedBy   string   `json:"createdBy"`
	CreatedAt   string   `json:"createdAt"`
	IsPrivate   bool     `json:"isPrivate"`
	Members     []string `json:"members,omitempty"`
}

func viewRoom(r store.Room) roomView {
	return roomView{RoomID: r.RoomID, Name: r.Name, Description: r.Description, CreatedBy: r.CreatedBy,
		CreatedAt: timestamp(r.CreatedAt), IsPrivate: r.IsPrivate, Members: r.Members}
}

// userView is one online user.
type userView struct {
	UserID      string `json:"userId"`
	Username    string `json:"username"`
	Connections int    `json:"connections"`
}
