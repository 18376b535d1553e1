package client

import (
	"encoding/json"
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// Error is an error reply from the server.
type Error struct {
	Code      string // stable: protocol.CodeNotAuthor, protocol.CodeRoomNotFound, ... (docs/protocol.md)
	Message   string
	RequestID string
	// RetryAfter is the retry hint of a protocol.CodeRateLimited error:
	// the request may succeed once this long has passed (0 otherwise).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "switchboard: " + e.Code + ": " + e.Message }

// Broadcast types (package protocol's), and the events the client adds.
const (
	BroadcastMessage    = protocol.BroadcastMessage
	BroadcastUserJoined = protocol.BroadcastUserJoined
	BroadcastUserLeft   = protocol.BroadcastUserLeft
	BroadcastTyping     = protocol.BroadcastTyping
	BroadcastRoomUpdate = protocol.BroadcastRoomUpdate
	BroadcastPresence   = protocol.BroadcastPresence

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
	// NotAnnounced: the broadcast says that lists kept from broadcasts are
	// not live (protocol.Broadcast.Announced is false): on a message or
	// typing event, the room's joins and leaves are not announced; on a
	// room_update, the tenant's presence is not. Ask OnlineUsersReply.
	NotAnnounced bool
}

type frame = protocol.Frame

// The wire types of package protocol, under the SDK's names.
type (
	// Room is a chat room.
	Room = protocol.Room
	// Message is a chat message.
	Message = protocol.Message
	// OnlineUser is one user with at least one open connection.
	OnlineUser = protocol.OnlineUser
	// CreateRoomInput is createRoom's data.
	CreateRoomInput = protocol.CreateRoomInput
	// ListRoomsInput is listRooms's data; IsPrivate nil lists both kinds.
	ListRoomsInput = protocol.ListRoomsInput
	// RoomPage is one page of rooms; Cursor is "" on the last page.
	RoomPage = protocol.RoomPage
	// SendMessageInput is sendMessage's data.
	SendMessageInput = protocol.SendMessageInput
	// HistoryInput is getRoomHistory's data.
	HistoryInput = protocol.HistoryInput
	// HistoryPage is one page of history, newest first; Cursor "" on the last.
	HistoryPage = protocol.HistoryPage
	// JoinRoomReply is joinRoom's reply: the room, and whether its joins
	// and leaves are announced (Announced, on the user's first join of
	// the room).
	JoinRoomReply = protocol.JoinRoomReply
	// OnlineUsersInput is getOnlineUsers's data: a room ("" for the
	// tenant), and a limit (0: all).
	OnlineUsersInput = protocol.OnlineUsersInput
	// OnlineUsersReply is getOnlineUsers's reply: the users, and whether
	// the list is kept live by broadcasts (Announced).
	OnlineUsersReply = protocol.OnlineUsersReply
)
