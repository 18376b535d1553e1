// Package baseline is the yardstick of `switchboard bench`: the least a
// WebSocket server must do to serve the chat protocol subset the bench
// drives, so that a figure measured against Switchboard can be shown as a
// ratio to this machine's own limit, measured in the same run.
//
// It accepts any WebSocket upgrade (no authentication, no store), runs one
// reader goroutine per connection, and answers createRoom, joinRoom,
// sendMessage and heartbeat. A sendMessage builds the broadcast frame once
// and writes that prepared frame straight to each member's socket, one
// goroutine per member (the "direct" baseline of gateway/bench_test.go):
// no queue, no deadline, nothing else. Replies and broadcasts have the same
// shape as Switchboard's (docs/protocol.md), about the same size.
package baseline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// Server is a baseline server. Serve it on a listener; Close stops it.
type Server struct {
	mu     sync.Mutex
	rooms  map[string]*room
	conns  map[*bconn]struct{}
	ln     net.Listener
	closed bool
	wg     sync.WaitGroup

	roomSeq, msgSeq atomic.Int64
	accepted        atomic.Int64
}

type room struct {
	mu      sync.Mutex
	members []*bconn
}

type bconn struct {
	nc    net.Conn
	wmu   sync.Mutex
	rooms []*room
}

// New returns a server.
func New() *Server {
	return &Server{rooms: map[string]*room{}, conns: map[*bconn]struct{}{}}
}

// Serve accepts connections on ln until Close. It returns once ln fails.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if errors.Is(err, errEMFILE) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

// Accepted is the number of connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Close stops accepting and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	conns := make([]*bconn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.nc.Close()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	early, err := upgrade(nc)
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	c := &bconn{nc: nc}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.accepted.Add(1)
	defer s.drop(c)

	var rd io.Reader = nc
	if len(early) > 0 {
		rd = io.MultiReader(bytes.NewReader(early), nc)
	}
	br := bufio.NewReaderSize(rd, 256)
	var hdr wsproto.Header
	hbuf := make([]byte, wsproto.MaxHeaderSize)
	var msg []byte
	for {
		if err := wsproto.ReadHeader(br, hbuf, &hdr); err != nil {
			return
		}
		if hdr.Length > 1<<20 {
			return
		}
		payload := make([]byte, hdr.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		if hdr.Masked {
			wsproto.Unmask(payload, hdr.Mask, 0)
		}
		switch hdr.Op {
		case wsproto.OpClose:
			c.write(wsproto.Frame(wsproto.OpClose, payload[:min(len(payload), 2)]))
			return
		case wsproto.OpPing:
			c.write(wsproto.Frame(wsproto.OpPong, payload))
			continue
		case wsproto.OpPong:
			continue
		}
		msg = append(msg, payload...)
		if !hdr.Fin {
			continue
		}
		s.handle(c, msg)
		msg = msg[:0]
	}
}

func (s *Server) drop(c *bconn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	for _, r := range c.rooms {
		r.mu.Lock()
		for i, m := range r.members {
			if m == c {
				last := len(r.members) - 1
				r.members[i] = r.members[last]
				r.members[last] = nil
				r.members = r.members[:last]
				break
			}
		}
		r.mu.Unlock()
	}
}

func (c *bconn) write(frame []byte) error {
	c.wmu.Lock()
	_, err := c.nc.Write(frame)
	c.wmu.Unlock()
	return err
}

// request is a protocol.Request with the data of the actions the baseline
// serves decoded in the same pass.
type request struct {
	Action string `json:"action"`
	Data   struct {
		RoomID  string `json:"roomId"`
		Name    string `json:"name"`
		Content string `json:"content"`
	} `json:"data"`
	RequestID string `json:"requestId"`
}

type reply = protocol.Reply

func stamp() string { return protocol.FormatTime(time.Now()) }

func (s *Server) handle(c *bconn, p []byte) {
	var req request
	if err := json.Unmarshal(p, &req); err != nil {
		s.reply(c, reply{Type: protocol.ReplyError, Error: "invalid JSON", Code: protocol.CodeInvalidJSON})
		return
	}
	ok := func(data any) { s.reply(c, reply{Type: protocol.ReplySuccess, Data: data, RequestID: req.RequestID}) }
	switch req.Action {
	case protocol.ActionCreateRoom:
		id := "baseline-room-" + strconv.FormatInt(s.roomSeq.Add(1), 10)
		s.mu.Lock()
		s.rooms[id] = &room{}
		s.mu.Unlock()
		ok(map[string]any{"roomId": id, "name": req.Data.Name, "createdBy": "anonymous", "createdAt": stamp(), "isPrivate": false})
	case protocol.ActionJoinRoom:
		r := s.room(req.Data.RoomID, true)
		r.mu.Lock()
		r.members = append(r.members, c)
		r.mu.Unlock()
		c.rooms = append(c.rooms, r)
		ok(map[string]any{"room": map[string]any{"roomId": req.Data.RoomID, "name": req.Data.RoomID, "createdBy": "anonymous", "createdAt": stamp()}, "alreadyJoined": false})
	case protocol.ActionSendMessage:
		r := s.room(req.Data.RoomID, false)
		if r == nil {
			s.reply(c, reply{Type: protocol.ReplyError, Error: "room not found", Code: protocol.CodeRoomNotFound, RequestID: req.RequestID})
			return
		}
		now := time.Now()
		m := protocol.Message{MessageID: "baseline-" + strconv.FormatInt(s.msgSeq.Add(1), 10), RoomID: req.Data.RoomID,
			UserID: "anonymous", Username: "anonymous", Content: req.Data.Content, MessageType: protocol.MessageText, Timestamp: now}
		b, _ := json.Marshal(protocol.Broadcast{Type: protocol.BroadcastMessage, RoomID: m.RoomID, Data: m, Timestamp: protocol.FormatTime(now)})
		frame := wsproto.TextFrame(b)
		r.mu.Lock()
		members := append([]*bconn(nil), r.members...)
		r.mu.Unlock()
		for _, to := range members {
			go to.write(frame)
		}
		ok(m)
	case protocol.ActionHeartbeat, protocol.ActionPing:
		ok(map[string]any{"expiresAt": protocol.FormatTime(time.Now().Add(10 * time.Minute))}) // the shape of chat's reply (chat.DefaultConnectionTTL)
	default:
		s.reply(c, reply{Type: "error", Error: "the baseline serves createRoom, joinRoom, sendMessage and heartbeat only", Code: protocol.CodeUnknownAction, RequestID: req.RequestID})
	}
}

// room returns the room with id, creating it if create (any id may be
// joined: the bench's receivers may join before anyone created it).
func (s *Server) room(id string, create bool) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil && create {
		r = &room{}
		s.rooms[id] = r
	}
	return r
}

func (s *Server) reply(c *bconn, r reply) {
	r.Timestamp = stamp()
	b, _ := json.Marshal(r)
	c.write(wsproto.TextFrame(b))
}
