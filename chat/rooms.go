package chat

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
)

const (
	maxRoomName        = 100
	maxRoomDescription = 500
	maxRoomMembers     = 500
	defaultPageSize    = 50
	maxPageSize        = 100
	// maxOnlineUsers is the largest limit of getOnlineUsers: the default
	// presence threshold (DefaultPresenceMaxConnections), so that a list
	// kept live by broadcasts can be asked in one request.
	maxOnlineUsers = 1000
	// maxPageBytes bounds the items of a reply (getOnlineUsers's users,
	// a page of history or rooms), as JSON: the reply is one post to the
	// connection, which the gateway refuses over its message limit (128
	// KiB, as on AWS): 1000 users of 128-byte ids and names are some 300
	// KB, 100 messages of 4 KB 400 KB. The rest of the reply (total,
	// roomId, cursor, requestId, timestamp) takes well under 1 KiB.
	maxPageBytes = 120 << 10
)

// fitPage reads a page of views with read, and while its items are over
// one reply (maxPageBytes, fitting) reads it again with as many as fit
// (page.Limit, which read uses), for a cursor that goes on after them;
// the limit only shrinks.
func fitPage[T any](page *store.Page, read func() ([]T, string, *apiError)) ([]T, string, *apiError) {
	views, next, e := read()
	for k := fitting(views); e == nil && k < len(views); k = fitting(views) {
		page.Limit = k
		views, next, e = read()
	}
	return views, next, e
}

// fitting returns how many of the first items fit in maxPageBytes as a
// JSON array (encoding them one by one, as many as fit plus one); at
// least one: an item larger than that alone goes alone.
func fitting[T any](items []T) int {
	size := len("[]")
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return max(i, 1) // the reply's encoding will say
		}
		size += len(b) + 1 // and a comma
		if size > maxPageBytes {
			return max(i, 1)
		}
	}
	return len(items)
}

func (s *Service) createRoom(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.CreateRoomInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	in.Name, in.Description = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description)
	if e := required("name", in.Name); e != nil {
		return nil, e
	}
	if e := text("name", in.Name); e != nil {
		return nil, e
	}
	if in.Description != "" {
		if e := text("description", in.Description); e != nil {
			return nil, e
		}
	}
	if utf8.RuneCountInString(in.Name) > maxRoomName {
		return nil, errorf(protocol.CodeInvalidRequest, "data.name must be at most %d characters", maxRoomName)
	}
	if utf8.RuneCountInString(in.Description) > maxRoomDescription {
		return nil, errorf(protocol.CodeInvalidRequest, "data.description must be at most %d characters", maxRoomDescription)
	}
	if len(in.Members) > maxRoomMembers {
		return nil, errorf(protocol.CodeInvalidRequest, "data.members must list at most %d users", maxRoomMembers)
	}
	room := store.Room{
		TenantID: r.id.TenantID, RoomID: uuid.NewString(), Name: in.Name, Description: in.Description,
		CreatedBy: r.id.UserID, CreatedAt: s.now(), IsPrivate: in.IsPrivate,
	}
	if in.IsPrivate {
		seen := map[string]bool{r.id.UserID: true}
		room.Members = []string{r.id.UserID}
		for _, m := range in.Members {
			m = strings.TrimSpace(m)
			if m == "" || len(m) > 128 {
				return nil, errorf(protocol.CodeInvalidRequest, "data.members must be user ids")
			}
			if e := text("members", m); e != nil {
				return nil, e
			}
			if !seen[m] {
				seen[m] = true
				room.Members = append(room.Members, m)
			}
		}
	}
	// Counted once the request is known valid: only rooms that would be
	// made take from the user's budget.
	if e := s.admitRoomCreation(r.id); e != nil {
		return nil, e
	}
	if err := s.store.CreateRoom(ctx, room); err != nil {
		return nil, s.internal(err)
	}
	s.announceRoom(ctx, r.out, room)
	return viewRoom(room), nil
}

// announceRoom tells those who may see a new room about it: the tenant for
// a public room, the members' connections for a private one.
func (s *Service) announceRoom(ctx context.Context, out *outbox, room store.Room) {
	conns, err := s.store.TenantConnections(ctx, room.TenantID)
	if err != nil {
		s.log.Warn("room_update broadcast", "err", err)
		return
	}
	var ids []string
	for _, c := range conns {
		if s.maySee(room, c.UserID) {
			ids = append(ids, c.ConnectionID)
		}
	}
	b := broadcast{Type: BroadcastRoomUpdate, RoomID: room.RoomID, Data: viewRoom(room)}
	// The tenant's connections were read whole: saying that presence is
	// not announced in a tenant above the limit costs nothing.
	if limit := s.cfg.PresenceMaxConnections; limit > 0 && len(conns) > limit {
		b.Announced = new(false)
	}
	out.broadcastRead(ctx, conns, ids, b)
}

// maySee: public rooms are for the whole tenant, private ones for members.
func (s *Service) maySee(room store.Room, userID string) bool {
	if !room.IsPrivate {
		return true
	}
	for _, m := range room.Members {
		if m == userID {
			return true
		}
	}
	return false
}

// room returns a room the user may see; another tenant's room is not found.
func (s *Service) room(ctx context.Context, id identity, roomID string) (store.Room, *apiError) {
	if e := required("roomId", roomID); e != nil {
		return store.Room{}, e
	}
	room, err := s.store.GetRoom(ctx, id.TenantID, roomID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return room, errorf(protocol.CodeRoomNotFound, "room not found")
	case err != nil:
		return room, s.internal(err)
	case !s.maySee(room, id.UserID):
		return room, errorf(protocol.CodeForbidden, "this room is private")
	}
	return room, nil
}

func (s *Service) listRooms(ctx context.Context, r *request) (any, *apiError) {
	var in struct {
		IsPrivate *bool    `json:"isPrivate"`
		Limit     *float64 `json:"limit"`
		Cursor    *string  `json:"cursor"`
	}
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	filter := store.RoomsAll
	if in.IsPrivate != nil {
		filter = store.RoomsPublic
		if *in.IsPrivate {
			filter = store.RoomsPrivate
		}
	}
	scope := roomsScope(r.id.TenantID, r.id.UserID, filter)
	page, e := s.pageOf(scope, in.Limit, in.Cursor)
	if e != nil {
		return nil, e
	}
	read := func() ([]roomView, string, *apiError) {
		rooms, next, err := s.store.ListRooms(ctx, r.id.TenantID, r.id.UserID, filter, page)
		if errors.Is(err, store.ErrCursor) {
			return nil, "", errorf(protocol.CodeInvalidCursor, "data.cursor is not a cursor of this listing")
		} else if err != nil {
			return nil, "", s.internal(err)
		}
		views := make([]roomView, 0, len(rooms))
		for _, r := range rooms {
			views = append(views, viewRoom(r))
		}
		return views, next, nil
	}
	views, next, e := fitPage(&page, read)
	if e != nil {
		return nil, e
	}
	return protocol.RoomPage{Rooms: views, Cursor: s.sealCursor(scope, next)}, nil
}

// pageOf reads a listing's limit (a whole number, 1e1 included) and its
// cursor, which must have been made for scope.
func (s *Service) pageOf(scope string, limit *float64, cursor *string) (store.Page, *apiError) {
	p := store.Page{Limit: defaultPageSize}
	if limit != nil {
		if *limit < 1 || *limit > maxPageSize || *limit != math.Trunc(*limit) {
			return p, errorf(protocol.CodeInvalidRequest, "data.limit must be a whole number between 1 and %d", maxPageSize)
		}
		p.Limit = int(*limit)
	}
	c, e := s.openCursor(scope, cursor)
	p.Cursor = c
	return p, e
}

func (s *Service) joinRoom(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.RoomInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	room, e := s.room(ctx, r.id, in.RoomID)
	if e != nil {
		return nil, e
	}
	// No ExpiresAt: the store gives the membership its connection's expiry,
	// read in the step that checks the connection is there; and it caps
	// the connection's rooms in that step (every room a connection is in
	// costs each of its heartbeats; joining a room it is in is fine).
	quota := max(s.cfg.MaxRoomsPerConnection, 0) // negative: none
	j, err := s.store.JoinRoom(ctx, store.Membership{
		TenantID: r.id.TenantID, RoomID: room.RoomID, ConnectionID: r.id.ConnectionID,
		UserID: r.id.UserID, Username: r.id.Username, JoinedAt: s.now(),
	}, quota)
	if errors.Is(err, store.ErrRoomLimit) {
		return nil, errorf(protocol.CodeTooManyRooms, "this connection is in %d rooms, the most it may be in: leave one first", quota)
	}
	if err != nil {
		return nil, s.joinFailed(r, err)
	}
	// user_joined goes to the others when this is the user's first
	// connection in the room (the store tells, without reading the room).
	// Then the reply says whether joins and leaves are announced in the
	// room, from the announcement's count; another join of the user's is
	// not counted for it (it would be a store read more per join: the
	// reply leaves announced out, and getOnlineUsers says).
	reply := protocol.JoinRoomReply{Room: viewRoom(room), AlreadyJoined: !j.Joined}
	if j.First {
		reply.Announced = new(s.announceRoomUser(ctx, r.out, r.id.TenantID, room.RoomID, r.id.UserID, r.id.Username, BroadcastUserJoined))
	}
	return reply, nil
}

// joinFailed is the answer to a join the store refused: a connection that
// is gone (it disconnected while its join was on the way: the store adds
// no member for it) is no failure of the server, and nobody is there to
// read the answer; anything else is.
func (s *Service) joinFailed(r *request, err error) *apiError {
	if errors.Is(err, store.ErrNotFound) {
		s.log.Debug("join of a connection that is gone", "connectionId", r.id.ConnectionID)
		return errorf(protocol.CodeInvalidRequest, "the connection is gone")
	}
	return s.internal(err)
}

// currentRoom resolves an omitted roomId: the one room the connection is in.
func (s *Service) currentRoom(ctx context.Context, id identity, roomID string) (string, []store.Membership, *apiError) {
	ms, err := s.store.ConnectionRooms(ctx, id.ConnectionID)
	if err != nil {
		return "", nil, s.internal(err)
	}
	if roomID != "" {
		return roomID, ms, nil
	}
	if len(ms) != 1 {
		return "", ms, errorf(protocol.CodeRoomRequired, "data.roomId is required: this connection is in %d rooms", len(ms))
	}
	return ms[0].RoomID, ms, nil
}

// memberOf is the preamble of the actions on a room the connection is in
// (sendMessage, typing, leaveRoom): it resolves an omitted roomId (the
// one room the connection is in) and checks that the connection is in the
// room, answering NOT_IN_ROOM with notIn otherwise.
func (s *Service) memberOf(ctx context.Context, id identity, roomID, notIn string) (store.Membership, *apiError) {
	roomID, ms, e := s.currentRoom(ctx, id, roomID)
	if e != nil {
		return store.Membership{}, e
	}
	m, ok := inRoom(ms, roomID)
	if !ok {
		return store.Membership{}, errorf(protocol.CodeNotInRoom, "%s", notIn)
	}
	return m, nil
}

func inRoom(ms []store.Membership, roomID string) (store.Membership, bool) {
	for _, m := range ms {
		if m.RoomID == roomID {
			return m, true
		}
	}
	return store.Membership{}, false
}

func (s *Service) leaveRoom(ctx context.Context, r *request) (any, *apiError) {
	var in protocol.RoomInput
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	m, e := s.memberOf(ctx, r.id, in.RoomID, "this connection is not in that room")
	if e != nil {
		return nil, e
	}
	roomID := m.RoomID
	l, err := s.store.LeaveRoom(ctx, r.id.TenantID, roomID, r.id.ConnectionID)
	if err != nil {
		return nil, s.internal(err)
	}
	if l.Last {
		s.announceLeft(ctx, r.out, m)
	}
	return map[string]any{"roomId": roomID}, nil
}

func (s *Service) getOnlineUsers(ctx context.Context, r *request) (any, *apiError) {
	var in struct {
		RoomID *string  `json:"roomId"`
		Limit  *float64 `json:"limit"`
	}
	if e := decode(r.data, &in); e != nil {
		return nil, e
	}
	if in.Limit != nil && (*in.Limit < 1 || *in.Limit > maxOnlineUsers || *in.Limit != math.Trunc(*in.Limit)) {
		return nil, errorf(protocol.CodeInvalidRequest, "data.limit must be a whole number between 1 and %d", maxOnlineUsers)
	}
	type entry struct{ userID, username string }
	var list []entry
	// announced: whether the list is kept live by broadcasts (user_joined
	// and user_left for a room, presence for the tenant), told from the
	// connections just read, as announceRoomUser and announcePresence
	// count them.
	limit := s.cfg.PresenceMaxConnections
	if in.RoomID != nil {
		limit = s.cfg.AnnounceMaxMembers
	}
	if in.RoomID != nil {
		room, e := s.room(ctx, r.id, *in.RoomID)
		if e != nil {
			return nil, e
		}
		ms, err := s.store.RoomMembers(ctx, r.id.TenantID, room.RoomID)
		if err != nil {
			return nil, s.internal(err)
		}
		for m := range ms.All() {
			list = append(list, entry{m.UserID, m.Username})
		}
	} else {
		cs, err := s.store.TenantConnections(ctx, r.id.TenantID)
		if err != nil {
			return nil, s.internal(err)
		}
		for _, c := range cs {
			list = append(list, entry{c.UserID, c.Username})
		}
	}
	byUser := map[string]*userView{}
	for _, e := range list {
		if u, ok := byUser[e.userID]; ok {
			u.Connections++
		} else {
			byUser[e.userID] = &userView{UserID: e.userID, Username: e.username, Connections: 1}
		}
	}
	users := make([]userView, 0, len(byUser))
	for _, u := range byUser {
		users = append(users, *u)
	}
	sort.Slice(users, func(i, j int) bool {
		if users[i].Username != users[j].Username {
			return users[i].Username < users[j].Username
		}
		return users[i].UserID < users[j].UserID
	})
	out := protocol.OnlineUsersReply{Users: users, Total: len(users), Announced: limit <= 0 || len(list) <= limit}
	if in.Limit != nil && len(users) > int(*in.Limit) {
		out.Users = users[:int(*in.Limit)] // the first by name; Total counts all
	}
	out.Users = out.Users[:fitting(out.Users)] // as many as one reply holds
	if in.RoomID != nil {
		out.RoomID = *in.RoomID
	}
	return out, nil
}
