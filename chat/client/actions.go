package client

import (
	"context"
	"time"
)

// CreateRoom creates a room.
func (c *Client) CreateRoom(ctx context.Context, in CreateRoomInput) (Room, error) {
	var r Room
	err := c.do(ctx, "createRoom", in, &r)
	return r, err
}

// ListRooms lists the rooms this user may see, newest first.
func (c *Client) ListRooms(ctx context.Context, in ListRoomsInput) (RoomPage, error) {
	var p RoomPage
	err := c.do(ctx, "listRooms", in, &p)
	return p, err
}

// JoinRoom joins a room: its broadcasts arrive on Events, and the client
// rejoins it after a reconnect until LeaveRoom.
func (c *Client) JoinRoom(ctx context.Context, roomID string) (Room, error) {
	r, err := c.JoinRoomReply(ctx, roomID)
	return r.Room, err
}

// JoinRoomReply joins a room as JoinRoom does, and returns the whole
// reply: on the join that brought the user into the room, Announced
// false says that the room's user_joined and user_left are not broadcast
// (it is above the server's threshold), so that a list of its members
// must come from OnlineUsersReply; Announced is nil on the join of a user
// already in the room through another connection (OnlineUsersReply
// says).
func (c *Client) JoinRoomReply(ctx context.Context, roomID string) (JoinRoomReply, error) {
	var out JoinRoomReply
	at, err := c.doAt(ctx, "joinRoom", map[string]string{"roomId": roomID}, &out)
	if err != nil {
		return JoinRoomReply{}, err
	}
	c.mu.Lock()
	if c.rooms[roomID] == nil {
		// Messages older than the join are history, not news: only those
		// after it count as missed across a reconnect.
		c.rooms[roomID] = &roomState{seen: map[string]bool{}, lastID: idFloor(at.Add(-time.Millisecond))}
	}
	c.mu.Unlock()
	return out, nil
}

// LeaveRoom leaves a room.
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	err := c.do(ctx, "leaveRoom", map[string]string{"roomId": roomID}, nil)
	if err == nil {
		c.mu.Lock()
		delete(c.rooms, roomID)
		c.mu.Unlock()
	}
	return err
}

// SendMessage sends a message and returns it as stored.
func (c *Client) SendMessage(ctx context.Context, in SendMessageInput) (Message, error) {
	var m Message
	err := c.do(ctx, "sendMessage", in, &m)
	return m, err
}

// EditMessage replaces the content of one of this user's messages.
func (c *Client) EditMessage(ctx context.Context, messageID, content string) (Message, error) {
	var m Message
	err := c.do(ctx, "editMessage", map[string]string{"messageId": messageID, "content": content}, &m)
	return m, err
}

// DeleteMessage deletes one of this user's messages.
func (c *Client) DeleteMessage(ctx context.Context, messageID string) (Message, error) {
	var m Message
	err := c.do(ctx, "deleteMessage", map[string]string{"messageId": messageID}, &m)
	return m, err
}

// History returns one page of a room's messages, newest first.
func (c *Client) History(ctx context.Context, in HistoryInput) (HistoryPage, error) {
	var p HistoryPage
	err := c.do(ctx, "getRoomHistory", in, &p)
	return p, err
}

// TypingStart tells the room this user is typing.
func (c *Client) TypingStart(ctx context.Context, roomID string) error {
	return c.do(ctx, "typingStart", map[string]string{"roomId": roomID}, nil)
}

// TypingStop tells the room this user stopped typing.
func (c *Client) TypingStop(ctx context.Context, roomID string) error {
	return c.do(ctx, "typingStop", map[string]string{"roomId": roomID}, nil)
}

// OnlineUsers lists the tenant's online users, or a room's ("" for the tenant):
// as many as fit in one reply (OnlineUsersReply's Total counts them all).
func (c *Client) OnlineUsers(ctx context.Context, roomID string) ([]OnlineUser, error) {
	r, err := c.OnlineUsersReply(ctx, OnlineUsersInput{RoomID: roomID})
	return r.Users, err
}

// OnlineUsersReply lists online users (of in.RoomID, or the tenant's; at
// most in.Limit of them when set, with Total counting all), and returns
// the whole reply: Announced false says that the list is not kept live by
// broadcasts (user_joined and user_left for a room, presence for the
// tenant, above the server's thresholds): ask again to refresh it.
func (c *Client) OnlineUsersReply(ctx context.Context, in OnlineUsersInput) (OnlineUsersReply, error) {
	var out OnlineUsersReply
	err := c.do(ctx, "getOnlineUsers", in, &out)
	return out, err
}

// Heartbeat refreshes the connection's expiry (the client sends one every
// HeartbeatInterval by itself). When the server had let the connection
// expire and some joined room was lost with it, the client drops the
// connection, so that it reconnects and resumes: it rejoins the rooms and
// fetches what it missed.
func (c *Client) Heartbeat(ctx context.Context) error {
	var out struct {
		Restored bool     `json:"restored"`
		Rooms    []string `json:"rooms"`
	}
	if err := c.do(ctx, "heartbeat", nil, &out); err != nil {
		return err
	}
	if !out.Restored {
		return nil
	}
	back := map[string]bool{}
	for _, id := range out.Rooms {
		back[id] = true
	}
	c.mu.Lock()
	conn, lost := c.conn, false
	for id := range c.rooms {
		lost = lost || !back[id]
	}
	c.mu.Unlock()
	if lost && conn != nil {
		c.log.Info("connection had expired on the server and lost rooms; reconnecting to resume")
		conn.Close()
	}
	return nil
}
