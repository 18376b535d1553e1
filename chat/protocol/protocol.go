// Package protocol is the one definition of the chat wire protocol of
// docs/protocol.md: the actions a client sends, the replies and broadcasts
// the server pushes, the data they carry and the error codes of error
// replies. The chat handlers (package chat), the Go SDK (package client),
// the end-to-end suite (internal/chattest) and the bench (bench,
// bench/baseline) all speak it through this package; web/client.js cannot
// import Go, so a test checks its action names and error codes against
// this package.
//
// The package depends on the standard library only, so that any program
// may speak the protocol without the server's dependencies.
package protocol

import (
	"encoding/json"
	"time"
)

// Actions: the "action" of a request (and the route keys a deployment maps
// to the message handler).
const (
	ActionCreateRoom     = "createRoom"
	ActionListRooms      = "listRooms"
	ActionJoinRoom       = "joinRoom"
	ActionLeaveRoom      = "leaveRoom"
	ActionSendMessage    = "sendMessage"
	ActionEditMessage    = "editMessage"
	ActionDeleteMessage  = "deleteMessage"
	ActionGetRoomHistory = "getRoomHistory"
	ActionTypingStart    = "typingStart"
	ActionTypingStop     = "typingStop"
	ActionGetOnlineUsers = "getOnlineUsers"
	ActionHeartbeat      = "heartbeat"
	// ActionPing is another name of ActionHeartbeat.
	ActionPing = "ping"
)

// Actions lists every action, in the order of docs/protocol.md.
var Actions = []string{
	ActionCreateRoom, ActionListRooms, ActionJoinRoom, ActionLeaveRoom,
	ActionSendMessage, ActionEditMessage, ActionDeleteMessage, ActionGetRoomHistory,
	ActionTypingStart, ActionTypingStop, ActionGetOnlineUsers, ActionHeartbeat, ActionPing,
}

// Error codes of error replies: stable, for programs; the error text is
// for people.
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
	// CodeRateLimited: too many requests; the reply's RetryAfterMs says
	// when the next one may succeed.
	CodeRateLimited = "RATE_LIMITED"
	// CodeTooManyRooms: the connection is in as many rooms as it may be;
	// leave one before joining another.
	CodeTooManyRooms = "TOO_MANY_ROOMS"
	CodeInternal     = "INTERNAL_ERROR"
)

// Codes lists every error code.
var Codes = []string{
	CodeInvalidJSON, CodeInvalidRequest, CodeUnknownAction, CodeRoomNotFound, CodeForbidden,
	CodeNotInRoom, CodeRoomRequired, CodeMessageNotFound, CodeNotAuthor, CodeMessageDeleted,
	CodeContentTooLarge, CodeInvalidCursor, CodeRateLimited, CodeTooManyRooms, CodeInternal,
}

// Reply types: the "type" of a reply to a request.
const (
	ReplySuccess = "success"
	ReplyError   = "error"
)

// Broadcast types: the "type" of a frame the server pushes unasked.
const (
	BroadcastMessage    = "message"
	BroadcastUserJoined = "user_joined"
	BroadcastUserLeft   = "user_left"
	BroadcastTyping     = "typing"
	BroadcastRoomUpdate = "room_update"
	BroadcastPresence   = "presence"
)

// Broadcasts lists every broadcast type.
var Broadcasts = []string{
	BroadcastMessage, BroadcastUserJoined, BroadcastUserLeft, BroadcastTyping, BroadcastRoomUpdate, BroadcastPresence,
}

// Message types: a message's "messageType". SYSTEM messages are sent by
// the server only.
const (
	MessageText   = "TEXT"
	MessageImage  = "IMAGE"
	MessageFile   = "FILE"
	MessageSystem = "SYSTEM"
)

// TimeFormat is the layout of every timestamp on the wire: UTC, in
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as the wire carries it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Request is what a client sends.
type Request struct {
	Action    string          `json:"action"`
	Data      json.RawMessage `json:"data"`
	RequestID string          `json:"requestId"`
}

// Reply answers one request: Type is ReplySuccess (with Data) or
// ReplyError (with Error and Code, and RetryAfterMs for CodeRateLimited).
type Reply struct {
	Type      string `json:"type"`
	Data      any    `json:"data,omitempty"`
	Error     string `json:"error,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// RetryAfterMs is the retry hint of a RATE_LIMITED reply: the
	// milliseconds after which the request would be allowed (at least 1).
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
	Timestamp    string `json:"timestamp"`
}

// Broadcast is pushed to the members of a room or a tenant.
type Broadcast struct {
	Type   string `json:"type"`
	RoomID string `json:"roomId,omitempty"`
	Data   any    `json:"data"`
	// Announced, when set (always to false), says that the lists this
	// broadcast's audience keeps are not live: on a message or typing
	// broadcast, the room's joins and leaves are not announced (it holds
	// more connections than the server's AnnounceMaxMembers); on a
	// room_update to the tenant, presence is not (the tenant holds more
	// than PresenceMaxConnections). Absent: nothing is said (the
	// server's fan-out counted the recipients anyway, so saying it costs
	// nothing; see docs/protocol.md, "Lists that are not live").
	Announced *bool  `json:"announced,omitempty"`
	Timestamp string `json:"timestamp"`
}

// Frame is any frame the server sends (a Reply or a Broadcast) as a
// client reads it, its data left undecoded.
type Frame struct {
	Type      string          `json:"type"`
	RoomID    string          `json:"roomId"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	Code      string          `json:"code"`
	RequestID string          `json:"requestId"`
	// RetryAfterMs: see Reply.RetryAfterMs.
	RetryAfterMs int64 `json:"retryAfterMs"`
	// Announced: see Broadcast.Announced (nil when absent).
	Announced *bool  `json:"announced"`
	Timestamp string `json:"timestamp"`
}

// IsReply reports whether the frame answers a request (rather than being
// a broadcast).
func (f Frame) IsReply() bool { return f.Type == ReplySuccess || f.Type == ReplyError }
