// Package store is the chat backend's persistence: one interface, shaped by
// the handlers' access patterns (docs/store.md lists them), with an embedded
// implementation (store/sqlite), a PostgreSQL one (store/postgres) and a
// DynamoDB one (store/dynamo), all held to the same conformance suite
// (store/storetest).
//
// Every key is scoped by tenant: no method can reach another tenant's data
// with the identifiers a client supplies. Ephemeral items (connections and
// room memberships) carry an expiry; reads ignore expired items even before
// they are deleted, as DynamoDB TTL requires.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors. Implementations wrap them with %w.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrExists    = errors.New("store: already exists")
	ErrNotAuthor = errors.New("store: not the author")
	ErrDeleted   = errors.New("store: message was deleted")
	ErrCursor    = errors.New("store: invalid cursor")
	// ErrNotMember: SendMessage's connection is not a live member of the
	// message's room; nothing was stored.
	ErrNotMember = errors.New("store: not a member of the room")
	// ErrConnectionLimit: AddConnection's user already has as many live
	// connections as its limit allows; nothing was stored.
	ErrConnectionLimit = errors.New("store: the user has as many connections as allowed")
	// ErrRoomLimit: JoinRoom's connection is in as many rooms as its
	// limit allows; nothing was stored.
	ErrRoomLimit = errors.New("store: the connection is in as many rooms as allowed")
)

// Connection is one WebSocket connection of a user.
type Connection struct {
	ConnectionID string
	TenantID     string
	UserID       string
	Username     string
	ConnectedAt  time.Time
	ExpiresAt    time.Time // refreshed by heartbeats
	SourceIP     string
	UserAgent    string
}

// Room is a chat room of a tenant.
type Room struct {
	TenantID    string
	RoomID      string
	Name        string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	IsPrivate   bool
	// Members may join a private room (always includes CreatedBy). Public
	// rooms have no member list: anyone of the tenant may join.
	Members []string
}

// Membership says a connection has joined a room and receives its broadcasts.
type Membership struct {
	TenantID     string
	RoomID       string
	ConnectionID string
	UserID       string
	Username     string
	JoinedAt     time.Time
	ExpiresAt    time.Time // the connection's expiry (JoinRoom: zero means take it from the connection)
	// Last is set in the memberships DeleteConnection returns: this was
	// the last membership its user held in the room (see Join).
	Last bool
}

// Join is what JoinRoom did. A membership is held in its room from the
// JoinRoom that adds it until LeaveRoom or DeleteConnection removes it or,
// once the sweeper or DynamoDB's TTL deleted it on expiry, until
// ReleaseMembership. Of a user's memberships in a room, exactly one JoinRoom
// reports First (the one that finds none held) and exactly one removal
// reports Last (the one that leaves none held), however many connections
// join and leave at once, on however many nodes: user_joined and user_left
// are announced on them. Each is answered from the user's memberships in
// the room alone: its cost does not grow with the room.
type Join struct {
	Joined bool // the membership was added (false: a live one was there)
	First  bool // no other membership of the user was held in the room
}

// Leave is what LeaveRoom did.
type Leave struct {
	Left bool // a live membership was removed (false: none, or an expired one)
	Last bool // it was the user's last membership held in the room (see Join)
}

// Message types.
const (
	MessageText   = "TEXT"
	MessageImage  = "IMAGE"
	MessageFile   = "FILE"
	MessageSystem = "SYSTEM"
)

// Message is a chat message. A deleted message keeps its place in history
// with empty Content and Deleted set.
type Message struct {
	TenantID         string
	RoomID           string
	MessageID        string // sortable by time: history is ordered by it
	UserID           string
	Username         string
	Content          string
	MessageType      string
	CreatedAt        time.Time
	EditedAt         time.Time // zero if never edited
	Deleted          bool
	ReplyToMessageID string
}

// RoomFilter selects rooms for ListRooms.
type RoomFilter int

const (
	RoomsAll     RoomFilter = iota // public rooms and private rooms the user is a member of
	RoomsPublic                    // public rooms only
	RoomsPrivate                   // private rooms the user is a member of
)

// Page asks for one page of a listing. Cursor is "" for the first page, or
// the NextCursor of the previous page; it is opaque to callers.
type Page struct {
	Limit  int
	Cursor string
}

// Store is the chat backend's persistence.
type Store interface {
	// PutConnection stores a new connection (ErrExists if the id is taken).
	PutConnection(ctx context.Context, c Connection) error
	// AddConnection is $connect's write: it counts the user's live
	// connections as CountUserConnections(max(limit, 1)) does and stores c
	// unless limit > 0 and the count reached limit (ErrConnectionLimit,
	// nothing stored). It returns the count, taken before c was stored: 0
	// means c is the user's first live connection (presence). ErrExists if
	// the id is taken. Stores that can make the count and the write one
	// step do (PostgreSQL: one statement, one round trip); concurrent calls
	// for one user may each count without the others, as a count followed
	// by PutConnection would.
	AddConnection(ctx context.Context, c Connection, limit int) (before int, err error)
	// GetConnection returns a live connection; ErrNotFound if absent or expired.
	GetConnection(ctx context.Context, connectionID string) (Connection, error)
	// DeleteConnection removes a connection and its memberships and returns
	// them, each with Last set if it was its user's last held in its room;
	// ErrNotFound if it was not there (an expired one is still returned: it
	// had not been deleted yet).
	DeleteConnection(ctx context.Context, connectionID string) (Connection, []Membership, error)
	// TouchConnection moves the expiry of a live connection and of its
	// memberships to expiresAt; ErrNotFound if absent or expired.
	TouchConnection(ctx context.Context, connectionID string, expiresAt time.Time) error
	// UserConnections lists a user's live connections (strongly consistent).
	// Its cost grows with the user's connections: the request path uses
	// CountUserConnections.
	UserConnections(ctx context.Context, tenantID, userID string) ([]Connection, error)
	// CountUserConnections counts a user's live connections up to max
	// (strongly consistent): it returns min(n, max), having read at most
	// max live connections of the user (and those expired but not yet
	// deleted that it meets on the way), so that its cost does not grow
	// with the user's connections. max=1 asks whether the user is online;
	// max=limit+1 whether they are over a limit. max <= 0 returns 0.
	CountUserConnections(ctx context.Context, tenantID, userID string, max int) (int, error)
	// TenantConnections lists a tenant's live connections.
	TenantConnections(ctx context.Context, tenantID string) ([]Connection, error)
	// TakeTypingSlot records a typing event of a connection at now, unless
	// one was recorded less than interval before; false means rate limited.
	TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error)

	// CreateRoom stores a new room (ErrExists if the id is taken).
	CreateRoom(ctx context.Context, r Room) error
	// GetRoom returns a room of the tenant; ErrNotFound otherwise.
	GetRoom(ctx context.Context, tenantID, roomID string) (Room, error)
	// ListRooms lists the rooms userID may see, newest first.
	ListRooms(ctx context.Context, tenantID, userID string, filter RoomFilter, page Page) (rooms []Room, nextCursor string, err error)

	// JoinRoom adds a membership; joining twice is not an error, and
	// reports Joined=false. First says whether the user held no other
	// membership in the room (see Join). It refuses one of a connection
	// that is not there or has expired (ErrNotFound, nothing added), the
	// check atomic with the write and ordered with the connection's
	// DeleteConnection: whatever the interleaving of a join and
	// DeleteConnection of its connection, once both returned no membership
	// of the connection remains (a ghost: counted, listed, sent the room's
	// broadcasts and holding its user in the room until it expired). The
	// join either came first, and DeleteConnection returned its membership,
	// or it found the connection gone. Every store checks.
	//
	// A zero m.ExpiresAt gives the membership the connection's expiry,
	// read in that same atomic step, and ordered with the connection's
	// TouchConnection as with DeleteConnection: whatever the interleaving
	// of a join and a heartbeat, once both returned the membership's
	// expiry is the connection's (the caller reads no connection first).
	// A non-zero m.ExpiresAt is stored as given (the membership may then
	// expire before its connection until the next TouchConnection).
	//
	// maxRooms > 0 caps the connection's rooms: a join of a room the
	// connection is not in, when it is in maxRooms others, is refused
	// (ErrRoomLimit, nothing added), the count taken in the same atomic
	// step as the write, so that concurrent joins of one connection never
	// take it past maxRooms. The count is of the connection's live
	// memberships; on DynamoDB, of those not left nor deleted with the
	// connection (a membership given an earlier expiry than its
	// connection's counts until it is left: with the connection's expiry
	// they are the same). maxRooms <= 0: no cap.
	JoinRoom(ctx context.Context, m Membership, maxRooms int) (Join, error)
	// LeaveRoom removes a membership and reports whether it existed and
	// was live, and whether it was the user's last held in the room (an
	// expired one removed may be: see Join).
	LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (Leave, error)
	// ReleaseMembership ends the hold of a membership deleted on expiry
	// (by DeleteExpired, or DynamoDB's TTL) and reports whether it was the
	// user's last in the room. It is idempotent: a second call for the same
	// membership, or one for a membership never held, reports false.
	ReleaseMembership(ctx context.Context, m Membership) (last bool, err error)
	// CountRoomMembers counts a room's live memberships up to max: it
	// returns min(n, max), having read at most max live memberships (and
	// those expired but not yet deleted that it meets on the way). max <=
	// 0 returns 0.
	CountRoomMembers(ctx context.Context, tenantID, roomID string, max int) (int, error)
	// RoomMembers lists the live memberships of a room, in no particular
	// order. The list may share memory with the store and other callers
	// (the embedded store hands out the chunks of its own list of a large
	// room rather than copying it per broadcast; see Members): it is a
	// read-only view. Their ExpiresAt may be an earlier expiry of the
	// membership than its current one (the embedded store renews an
	// expiry without copying the list it handed out; which memberships are
	// live is decided on the current one): ConnectionRooms has the current.
	RoomMembers(ctx context.Context, tenantID, roomID string) (Members, error)
	// ConnectionRooms lists the live memberships of a connection.
	ConnectionRooms(ctx context.Context, connectionID string) ([]Membership, error)

	// PutMessage stores a new message (ErrExists if the id is taken).
	PutMessage(ctx context.Context, m Message) error
	// SendMessage is sendMessage's write: it stores m if connectionID is a
	// live member of m's room (m.TenantID, m.RoomID), and returns the
	// room's live memberships, as RoomMembers does (a read-only view that
	// may be shared), read with the write: the broadcast's recipients without
	// another round trip. ErrNotMember if the connection is not in the
	// room, ErrExists if the id is taken: nothing stored either way. It
	// returns once m is stored as durably as PutMessage's.
	SendMessage(ctx context.Context, connectionID string, m Message) (Members, error)
	// GetMessage returns a message of the tenant; ErrNotFound otherwise.
	GetMessage(ctx context.Context, tenantID, messageID string) (Message, error)
	// EditMessage replaces the content of userID's message: ErrNotFound,
	// ErrNotAuthor, or ErrDeleted leave it unchanged. The check and the
	// write are one atomic step.
	EditMessage(ctx context.Context, tenantID, messageID, userID, content string, at time.Time) (Message, error)
	// DeleteMessage clears the content of userID's message and marks it
	// deleted, with the same errors and atomicity as EditMessage.
	DeleteMessage(ctx context.Context, tenantID, messageID, userID string, at time.Time) (Message, error)
	// ListMessages lists a room's messages, newest first.
	ListMessages(ctx context.Context, tenantID, roomID string, page Page) (msgs []Message, nextCursor string, err error)

	Close() error
}

// TenantConnectionCounter is implemented by stores that count a tenant's
// live connections up to max reading at most max of them (the embedded,
// PostgreSQL and DynamoDB stores). The chat asks before it announces presence, so
// that a connect or disconnect in a large tenant costs no read of all its
// connections. store.Timed has it for every store: for one without, it
// reads the tenant's connections (TenantConnections) and counts them.
type TenantConnectionCounter interface {
	// CountTenantConnections returns min(n, max), n the tenant's live
	// connections; max <= 0 returns 0.
	CountTenantConnections(ctx context.Context, tenantID string, max int) (int, error)
}

// Sweeper is implemented by stores that delete expired items themselves
// (the embedded store; on AWS, DynamoDB's TTL does it). Each deleted item is
// returned as the image DynamoDB Streams would carry for it.
type Sweeper interface {
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Image, error)
}
