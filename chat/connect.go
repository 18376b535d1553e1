package chat

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Authorize is the REQUEST authorizer on $connect: it takes the JWT from
// the query string (token, or authorization) or an Authorization: Bearer
// header, and passes userId, username and tenantId on to every later event.
func (s *Service) Authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	token := tokenOf(req)
	if token == "" || s.tokens == nil {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	id, err := s.tokens.Verify(ctx, token)
	if err != nil {
		s.log.Info("token refused", "err", err, "sourceIp", req.RequestContext.Identity.SourceIP)
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: id.UserID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn},
			}},
		},
		Context: map[string]any{"userId": id.UserID, "username": id.Username, "tenantId": id.TenantID},
	}, nil
}

func tokenOf(req events.APIGatewayCustomAuthorizerRequestTypeRequest) string {
	if t := req.QueryStringParameters["token"]; t != "" {
		return t
	}
	if t := req.QueryStringParameters["authorization"]; t != "" {
		return strings.TrimPrefix(t, "Bearer ")
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			if t, ok := strings.CutPrefix(v, "Bearer "); ok {
				return strings.TrimSpace(t)
			}
		}
	}
	return ""
}

// DefaultMaxConnectionsPerUser is how many live connections one user may
// have (Config.MaxConnectionsPerUser): far more tabs and devices than a
// person uses, and above what `switchboard bench` gives one user (at most
// 198 of the 19,800 receivers one process holds, over its default 100
// users).
const DefaultMaxConnectionsPerUser = 200

// maxConnectionsPerUser is the limit in force; 0 means none.
func (c *Config) maxConnectionsPerUser() int {
	switch {
	case c.MaxConnectionsPerUser < 0:
		return 0
	case c.MaxConnectionsPerUser == 0:
		return DefaultMaxConnectionsPerUser
	}
	return c.MaxConnectionsPerUser
}

// errTooManyConnections refuses a $connect of a user at the limit.
var errTooManyConnections = errors.New("the user has as many connections as allowed")

// Connect stores the connection; a user's first connection makes them
// online for the tenant. A user who already has Config.MaxConnectionsPerUser
// live connections is refused with 429.
func (s *Service) Connect(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id, err := identityOf(ev)
	if err != nil {
		s.log.Warn("refusing connection", "err", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusForbidden}, nil
	}
	rc := ev.RequestContext
	c := store.Connection{
		ConnectionID: id.ConnectionID, TenantID: id.TenantID, UserID: id.UserID, Username: id.Username,
		SourceIP: rc.Identity.SourceIP, UserAgent: rc.Identity.UserAgent,
	}
	err = s.addConnection(ctx, s.directOutbox(), c)
	if errors.Is(err, errTooManyConnections) {
		s.log.Info("refusing connection: too many connections of the user", "connectionId", c.ConnectionID,
			"tenantId", c.TenantID, "userId", c.UserID, "limit", s.cfg.maxConnectionsPerUser(), "sourceIp", c.SourceIP)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusTooManyRequests}, nil
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// addConnection stores c, unless its user is at the connection limit
// (errTooManyConnections), and announces the user online if this is their
// only connection.
func (s *Service) addConnection(ctx context.Context, out *outbox, c store.Connection) error {
	return s.putConnection(ctx, out, c, true, s.cfg.maxConnectionsPerUser())
}

// storeConnection stores c, whatever the user's connections (heartbeat
// restores a connection that is open already); announce says whether the
// user's first connection makes them online for the tenant.
func (s *Service) storeConnection(ctx context.Context, out *outbox, c store.Connection, announce bool) error {
	return s.putConnection(ctx, out, c, announce, 0)
}

// putConnection stores c; announce says whether the user's first
// connection makes them online for the tenant; limit (0: none) is how many
// live connections the user may have already, refused with
// errTooManyConnections.
//
// The store counts the user's connections before writing this one (at
// most limit of them, or one: the cost does not grow with the user's
// connections), in the same step as the write where it can
// (AddConnection: one statement on PostgreSQL), which guarantees that of
// several tabs connecting at once at least one announces (an extra
// announcement is harmless; a missing one is not). For the same reason the limit is checked before the write:
// $connects of one user that run at the same moment may each pass it, so
// that the user ends up over it by at most the number that ran together.
func (s *Service) putConnection(ctx context.Context, out *outbox, c store.Connection, announce bool, limit int) error {
	now := s.now()
	c.ConnectedAt, c.ExpiresAt = now, now.Add(s.cfg.ConnectionTTL)
	before, err := s.store.AddConnection(ctx, c, limit)
	if errors.Is(err, store.ErrConnectionLimit) {
		return errTooManyConnections
	}
	if err != nil {
		return err
	}
	if announce && before == 0 {
		s.announcePresence(ctx, out, c.TenantID, c.UserID, c.Username, "online", c.ConnectionID)
	}
	return nil
}

// Disconnect removes the connection, tells the rooms it was in that the
// user left (when it was their last connection there) and, when it was the
// user's last connection, that they are offline.
func (s *Service) Disconnect(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	err := s.dropConnection(ctx, s.directOutbox(), ev.RequestContext.ConnectionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

func (s *Service) dropConnection(ctx context.Context, out *outbox, connectionID string) error {
	c, memberships, err := s.store.DeleteConnection(ctx, connectionID)
	if err != nil {
		return err
	}
	s.connectionRemoved(ctx, out, c, memberships, nil)
	return nil
}

// connectionRemoved announces what a removed connection changes: user_left
// in its rooms, offline for the tenant. offline, when not nil, holds the
// users (tenant NUL user) already announced offline by the batch this
// connection is part of: several tabs of one user that expire together
// make one offline, not one each.
func (s *Service) connectionRemoved(ctx context.Context, out *outbox, c store.Connection, memberships []store.Membership, offline map[string]bool) {
	for _, m := range memberships {
		if m.Last {
			s.announceLeft(ctx, out, m)
		}
	}
	key := c.TenantID + "\x00" + c.UserID
	if offline[key] {
		return
	}
	online, err := s.store.CountUserConnections(ctx, c.TenantID, c.UserID, 1)
	if err != nil {
		s.log.Warn("presence check", "err", err)
		return
	}
	if online == 0 {
		if offline != nil {
			offline[key] = true
		}
		s.announcePresence(ctx, out, c.TenantID, c.UserID, c.Username, "offline", "")
	}
}

// Cleanup handles DynamoDB Streams records: REMOVE records that DynamoDB's
// TTL made for expired connections (their $disconnect was missed) are
// handled as disconnects. Other records, including the REMOVE records of
// deletions the handlers made themselves, are ignored.
func (s *Service) Cleanup(ctx context.Context, ev events.DynamoDBEvent) error {
	out := s.directOutbox()
	var conns []store.Connection
	for _, rec := range ev.Records {
		if rec.EventName != "REMOVE" || rec.Change.OldImage == nil || !ttlDeletion(rec) {
			continue // $disconnect already handled deletions it made itself
		}
		img := store.Image(rec.Change.OldImage)
		switch img.Type() {
		case store.TypeMembership:
			m, err := img.Membership()
			if err != nil {
				s.log.Warn("cleanup: unreadable membership image", "err", err)
				continue
			}
			// A stream batch that fails is delivered again: releasing a
			// membership twice reports last once.
			last, err := s.store.ReleaseMembership(ctx, m)
			if err != nil {
				return err
			}
			if last {
				s.announceLeft(ctx, out, m)
			}
		case store.TypeConnection:
			if c, err := img.Connection(); err == nil {
				conns = append(conns, c)
			} else {
				s.log.Warn("cleanup: unreadable connection image", "err", err)
			}
		}
	}
	// Connections after memberships, so that user_left precedes offline.
	offline := map[string]bool{}
	for _, c := range conns {
		// A connection there again was restored since TTL deleted it (a
		// heartbeat after its expiry stores it again, with the same id):
		// the rooms it is in now, and its user's presence, are its own.
		if _, err := s.store.GetConnection(ctx, c.ConnectionID); err == nil {
			s.log.Info("expired connection restored since: nothing to clean up", "connectionId", c.ConnectionID, "userId", c.UserID)
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Memberships not yet expired themselves are removed now.
		memberships, err := s.store.ConnectionRooms(ctx, c.ConnectionID)
		if err != nil {
			return err
		}
		var left []store.Membership
		for _, m := range memberships {
			if l, err := s.store.LeaveRoom(ctx, m.TenantID, m.RoomID, m.ConnectionID); err == nil && l.Last {
				m.Last = true
				left = append(left, m)
			}
		}
		s.log.Info("expired connection cleaned up", "connectionId", c.ConnectionID, "userId", c.UserID)
		s.connectionRemoved(ctx, out, c, left, offline)
	}
	return nil
}

// ttlDeletion reports whether a stream record is DynamoDB's own TTL delete.
func ttlDeletion(rec events.DynamoDBEventRecord) bool {
	u := rec.UserIdentity
	return u != nil && u.Type == "Service" && u.PrincipalID == "dynamodb.amazonaws.com"
}

// announcePresence tells the tenant's connections that a user went online
// or offline; exclude is a connection not to post to (one still in $connect).
// A tenant holding more than Config.PresenceMaxConnections connections is
// not told: counting them reads at most that many (when the store can
// count: store.TenantConnectionCounter), so that the cost of a connect or
// disconnect in a large tenant does not grow with it.
func (s *Service) announcePresence(ctx context.Context, out *outbox, tenantID, userID, username, status, exclude string) {
	if limit := s.cfg.PresenceMaxConnections; limit > 0 {
		if c, ok := s.store.(store.TenantConnectionCounter); ok {
			n, err := c.CountTenantConnections(ctx, tenantID, limit+1)
			if err != nil {
				s.log.Warn("presence broadcast", "err", err)
				return
			}
			if n > limit {
				return
			}
		}
	}
	conns, err := s.store.TenantConnections(ctx, tenantID)
	if err != nil {
		s.log.Warn("presence broadcast", "err", err)
		return
	}
	if limit := s.cfg.PresenceMaxConnections; limit > 0 && len(conns) > limit {
		return // a store that cannot count: read, but not told
	}
	ids := make([]string, 0, len(conns))
	for _, c := range conns {
		if c.ConnectionID != exclude {
			ids = append(ids, c.ConnectionID)
		}
	}
	out.broadcastRead(ctx, conns, ids, broadcast{Type: BroadcastPresence, Data: map[string]string{
		"userId": userID, "username": username, "status": status,
	}})
}

// announceLeft tells a room that a user left: m was their last membership
// held in it.
func (s *Service) announceLeft(ctx context.Context, out *outbox, m store.Membership) {
	s.announceRoomUser(ctx, out, m.TenantID, m.RoomID, m.UserID, m.Username, BroadcastUserLeft)
}

// announceRoomUser broadcasts user_joined or user_left (kind) about a user
// to the room's other connections, unless the room holds more than
// Config.AnnounceMaxMembers connections: counting them reads at most that
// many, so that the cost of a join or leave into a large room does not
// grow with it. It reports whether the room's joins and leaves are
// announced (roomAnnounced).
func (s *Service) announceRoomUser(ctx context.Context, out *outbox, tenantID, roomID, userID, username, kind string) bool {
	if !s.roomAnnounced(ctx, tenantID, roomID, kind) {
		return false
	}
	s.broadcastRoom(ctx, out, tenantID, roomID, userID, broadcast{Type: kind, RoomID: roomID, Data: map[string]string{
		"userId": userID, "username": username,
	}})
	return true
}

// roomAnnounced reports whether user_joined and user_left are broadcast in
// the room: whether it holds at most Config.AnnounceMaxMembers connections
// (counting at most that many + 1), or the limit is off. A count that
// fails says no (what (for) is logged with it): a client told no asks
// getOnlineUsers, which is right either way.
func (s *Service) roomAnnounced(ctx context.Context, tenantID, roomID, what string) bool {
	limit := s.cfg.AnnounceMaxMembers
	if limit <= 0 {
		return true
	}
	n, err := s.store.CountRoomMembers(ctx, tenantID, roomID, limit+1)
	if err != nil {
		s.log.Warn(what+": counting the room's connections", "roomId", roomID, "err", err)
		return false
	}
	return n <= limit
}
