package protocol

import (
	"encoding/json"
	"time"
)

// Message is a chat message as clients see it. Its times go on the wire
// in TimeFormat; EditedAt is absent (zero) if the message was never
// edited.
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

type wireMessage struct {
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

// MarshalJSON writes the message with its times in TimeFormat.
func (m Message) MarshalJSON() ([]byte, error) {
	w := wireMessage{
		MessageID: m.MessageID, RoomID: m.RoomID, UserID: m.UserID, Username: m.Username, Content: m.Content,
		MessageType: m.MessageType, Timestamp: FormatTime(m.Timestamp), Edited: m.Edited, Deleted: m.Deleted,
		ReplyToMessageID: m.ReplyToMessageID,
	}
	if !m.EditedAt.IsZero() {
		w.EditedAt = FormatTime(m.EditedAt)
	}
	return json.Marshal(w)
}

// Room is a chat room as clients see it; Members are listed for private
// rooms only.
type Room struct {
	RoomID      string    `json:"roomId"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	IsPrivate   bool      `json:"isPrivate"`
	Members     []string  `json:"members,omitempty"`
}

type wireRoom struct {
	RoomID      string   `json:"roomId"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	CreatedBy   string   `json:"createdBy"`
	CreatedAt   string   `json:"createdAt"`
	IsPrivate   bool     `json:"isPrivate"`
	Members     []string `json:"members,omitempty"`
}

// MarshalJSON writes the room with its creation time in TimeFormat.
func (r Room) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireRoom{RoomID: r.RoomID, Name: r.Name, Description: r.Description, CreatedBy: r.CreatedBy,
		CreatedAt: FormatTime(r.CreatedAt), IsPrivate: r.IsPrivate, Members: r.Members})
}

// OnlineUser is one user with at least one open connection.
type OnlineUser struct {
	UserID      string `json:"userId"`
	Username    string `json:"username"`
	Connections int    `json:"connections"`
}

// JoinRoomReply is joinRoom's reply.
type JoinRoomReply struct {
	Room Room `json:"room"`
	// AlreadyJoined: the connection was in the room already.
	AlreadyJoined bool `json:"alreadyJoined"`
	// Announced, on the join that brought the user into the room (the
	// room's count was made for user_joined anyway): user_joined and
	// user_left are broadcast in the room now (it holds at most the
	// server's AnnounceMaxMembers connections after this join, or the
	// server announces in rooms of any size). False: a list of the room's
	// members kept from those broadcasts goes stale; ask getOnlineUsers
	// with the roomId instead (docs/protocol.md, "Lists that are not
	// live"). Nil (absent) on the join of a user already in the room
	// through another connection: counting the room for it would add a
	// store read to every such join; getOnlineUsers says.
	Announced *bool `json:"announced,omitempty"`
}

// OnlineUsersInput is getOnlineUsers's data: RoomID "" for the tenant;
// Limit (1 to 1000; 0: all) caps the users listed, the first by username
// (and so does the reply's size: OnlineUsersReply.Users).
type OnlineUsersInput struct {
	RoomID string `json:"roomId,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// OnlineUsersReply is getOnlineUsers's reply.
type OnlineUsersReply struct {
	// Users, one per user however many connections, by username (then
	// user id); at most the request's limit, and as many as fit in one
	// reply (120 KiB of users: the gateway posts at most 128 KiB).
	Users []OnlineUser `json:"users"`
	// Total is how many users there are, listed or not.
	Total int `json:"total"`
	// RoomID is the room asked about; "" (absent) for the tenant.
	RoomID string `json:"roomId,omitempty"`
	// Announced: with a RoomID, user_joined and user_left are broadcast in
	// the room now (as JoinRoomReply.Announced); without, presence is
	// broadcast in the tenant now (it holds at most the server's
	// PresenceMaxConnections live connections). False: the list is not
	// kept live by broadcasts; ask again to refresh it.
	Announced bool `json:"announced"`
}

// MarshalJSON writes no users as [].
func (r OnlineUsersReply) MarshalJSON() ([]byte, error) {
	type plain OnlineUsersReply
	r.Users = nonNil(r.Users)
	return json.Marshal(plain(r))
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

// RoomPage is one page of rooms (listRooms's reply); Cursor is "" on the
// last page (null on the wire).
type RoomPage struct {
	Rooms  []Room `json:"rooms"`
	Cursor string `json:"cursor"`
}

// MarshalJSON writes an empty cursor as null, and no rooms as [].
func (p RoomPage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Rooms  []Room  `json:"rooms"`
		Cursor *string `json:"cursor"`
	}{nonNil(p.Rooms), nullable(p.Cursor)})
}

// SendMessageInput is sendMessage's data; RoomID may be left out by a
// connection in exactly one room.
type SendMessageInput struct {
	RoomID           string `json:"roomId,omitempty"`
	Content          string `json:"content"`
	MessageType      string `json:"messageType,omitempty"`
	ReplyToMessageID string `json:"replyToMessageId,omitempty"`
}

// EditMessageInput is editMessage's data.
type EditMessageInput struct {
	MessageID string `json:"messageId"`
	Content   string `json:"content"`
}

// MessageInput is deleteMessage's data.
type MessageInput struct {
	MessageID string `json:"messageId"`
}

// RoomInput is the data of joinRoom, leaveRoom, typingStart, typingStop
// and getOnlineUsers; RoomID may be left out where the action allows.
type RoomInput struct {
	RoomID string `json:"roomId"`
}

// HistoryInput is getRoomHistory's data.
type HistoryInput struct {
	RoomID string `json:"roomId"`
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// HistoryPage is one page of history (getRoomHistory's reply), newest
// first; Cursor is "" on the last page (null on the wire).
type HistoryPage struct {
	RoomID   string    `json:"roomId"`
	Messages []Message `json:"messages"`
	Cursor   string    `json:"cursor"`
}

// MarshalJSON writes an empty cursor as null, and no messages as [].
func (p HistoryPage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RoomID   string    `json:"roomId"`
		Messages []Message `json:"messages"`
		Cursor   *string   `json:"cursor"`
	}{p.RoomID, nonNil(p.Messages), nullable(p.Cursor)})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
