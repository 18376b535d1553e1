package client

import (
	"encoding/json"
	"time"
)

// Error is an error reply from the server.
type Error struct {
	Code      string // stable: NOT_AUTHOR, ROOM_NOT_FOUND, ... (docs/protocol.md)
	Message   string
	RequestID string
}

func (e *Error) Error() string { return "switchboard: " + e.Code + ": " + e.Message }

// Broadcast types, and the events the client adds.
const (
	BroadcastMessage    = "message"
	BroadcastUserJoined = "user_joined"
	BroadcastUserLeft   = "user_left"
	BroadcastTyping     = "typing"
	BroadcastRoomUpdate = "room_update"
	BroadcastPresence   = "presence"

	EventState   = "state"   // the connection state changed (Event.State)
	EventResumed = "resumed" // after a reconnect: rooms rejoined, missed messages delivered
)

// Event is a broadcast from the server, or a state change of the client.
type Event struct {
	Type      string
	RoomID    string
	Data      json.RawMessage
	Timestamp time.Time
	Message   *Message // for "message" events
	Resumed   bool     // the message was fetched from history after a reconnect
	State     State    // for "state" events
}

type frame struct {
	Type      string          `json:"type"`
	RoomID    string          `json:"roomId"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	Code      string          `json:"code"`
	RequestID string          `json:"requestId"`
	Timestamp string          `json:"timestamp"`
}

// Room is a chat room.
type Room struct {
	RoomID      string    `json:"roomId"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	IsPrivate   bool      `json:"isPrivate"`
	Members     []string  `json:"members,omitempty"`
}

// Message is a chat message.
type Message struct {
	MessageID        string    `json:"messageId"`
	RoomID           string    `json:"roomId"`
	UserID           string    `json:"userId"`
	Username         string    `json:"username"`
	Content          string    `json:"content"`
	MessageType      string    `json:"messageType"`
	Timestamp        time.Time `json:"timestamp"`
	EditedAt         time.Time `json:"editedAt,omitzero"`
	Edited           bool      `json:"edited,omitempty"`
	Deleted          bool      `json:"deleted,omitempty"`
	ReplyToMessageID string    `json:"replyToMessageId,omitempty"`
}

// OnlineUser is one user with at least one open connection.
type OnlineUser struct {
	UserID      string `json:"userId"`
	Username    string `json:"username"`
	Connections int    `json:"connections"`
}

// CreateRoomInput is createRoom's data.
type CreateRoomInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	IsPrivate   bool     `json:"isPrivate,omitempty"`
	Members     []string `json:"members,omitempty"`
}

// ListRoomsInput is listRooms's data; IsPrivate nil lists both kinds.
type ListRoomsInput struct {
	IsPrivate *bool  `json:"isPrivate,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	Cursor    string `json:"cursor,omitempty"`
}

// RoomPage is one page of rooms; Cursor is "" on the last page.
type RoomPage struct {
	Rooms  []Room `json:"rooms"`
	Cursor string `json:"cursor"`
}

// SendMessageInput is sendMessage's data.
type SendMessageInput struct {
	RoomID           string `json:"roomId,omitempty"`
	Content          string `json:"content"`
	MessageType      string `json:"messageType,omitempty"`
	ReplyToMessageID string `json:"replyToMessageId,omitempty"`
}

// HistoryInput is getRoomHistory's data.
type HistoryInput struct {
	RoomID string `json:"roomId"`
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// HistoryPage is one page of history, newest first; Cursor "" on the last.
type HistoryPage struct {
	RoomID   string    `json:"roomId"`
	Messages []Message `json:"messages"`
	Cursor   string    `json:"cursor"`
}
