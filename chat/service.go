package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/push"
)

// TokenVerifier checks a client's token; *auth.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Identity, error)
}

// The defaults of Config: the one definition of each, which `switchboard
// dev`'s flags, devstack and docs/protocol.md state.
const (
	// DefaultMaxContentBytes is the largest message content accepted, in
	// bytes (after trimming).
	DefaultMaxContentBytes = 4096
	// DefaultConnectionTTL is how long a connection without heartbeat
	// lives (docs/protocol.md: "10 minutes after its last heartbeat").
	DefaultConnectionTTL = 10 * time.Minute
	// DefaultTypingInterval is the least time between two typingStart
	// events of one connection (docs/protocol.md: "per 250 ms").
	DefaultTypingInterval = 250 * time.Millisecond
	// DefaultGoneGrace is how young a connection that answers 410 may be
	// and still be left alone (it may be finishing its handshake).
	DefaultGoneGrace = 10 * time.Second
	// DefaultFanoutThreshold: broadcasts to more connections than this go
	// through Config.Queue.
	DefaultFanoutThreshold = 500
	// DefaultFanoutBatchSize is the most connections of one fan-out batch.
	DefaultFanoutBatchSize = 500
	// DefaultAnnounceMaxMembers is the most connections a room may hold
	// and still hear user_joined and user_left: in a larger room a join is
	// no news to its members, and announcing every join and leave costs
	// deliveries that grow with the square of the room as it fills.
	DefaultAnnounceMaxMembers = 100
	// DefaultPresenceMaxConnections is the most live connections a tenant
	// may hold and still hear presence (a user online, offline): in a
	// larger tenant announcing every user who comes and goes to every
	// connection costs deliveries that grow with the square of the
	// tenant as it fills.
	DefaultPresenceMaxConnections = 1000

	// The limits of docs/protocol.md ("Limits"), each a token bucket, far
	// above what people chatting (and `switchboard bench` at its default
	// rates) use and far below a flood.

	// DefaultActionRate is how many action frames (requests of any
	// action, malformed ones included) one connection may send per
	// second, and DefaultActionBurst how many at once.
	DefaultActionRate  = 1000
	DefaultActionBurst = 2000
	// DefaultTenantBytesRate is how many bytes of action frames the
	// connections of one tenant may send per second together, and
	// DefaultTenantBytesBurst how many at once (at least one largest
	// frame).
	DefaultTenantBytesRate  = 4 << 20
	DefaultTenantBytesBurst = 8 << 20
	// DefaultRoomCreateRate is how many rooms one user may create per
	// minute, and DefaultRoomCreateBurst how many at once.
	DefaultRoomCreateRate  = 30
	DefaultRoomCreateBurst = 30
	// DefaultMaxRoomsPerConnection is how many rooms one connection may be
	// in at once (a quota: TOO_MANY_ROOMS until it leaves one).
	DefaultMaxRoomsPerConnection = 100
	// DefaultLimiterKeys is about how many connections, tenants or users
	// each in-memory limiter remembers at most; idle ones are forgotten
	// first.
	DefaultLimiterKeys = 1 << 18
)

// Config holds the backend's settings; zero values take the defaults
// (the Default* constants).
type Config struct {
	MaxContentBytes int           // DefaultMaxContentBytes: larger message content is refused
	ConnectionTTL   time.Duration // DefaultConnectionTTL: a connection without heartbeat expires after it
	TypingInterval  time.Duration // DefaultTypingInterval: at most one typing event per connection per interval
	// MaxConnectionsPerUser: a $connect of a user who already has this
	// many live connections is refused with 429. Default
	// DefaultMaxConnectionsPerUser; negative: no limit.
	MaxConnectionsPerUser int
	// GoneGrace: a connection younger than this that answers 410 is left
	// alone (it may still be finishing its handshake). Default
	// DefaultGoneGrace.
	GoneGrace time.Duration
	// Queue, when set, carries broadcasts to more than FanoutThreshold
	// connections (default DefaultFanoutThreshold) to the Fanout handler in
	// batches of at most FanoutBatchSize connections (default
	// DefaultFanoutBatchSize). Without it, every broadcast is posted by the
	// handler that makes it.
	Queue           Queue
	FanoutThreshold int
	FanoutBatchSize int
	// AnnounceMaxMembers: user_joined and user_left are broadcast in rooms
	// holding at most this many connections (after the join, after the
	// leave); larger rooms are not told (getOnlineUsers still is), and
	// their joinRoom and getOnlineUsers replies and message and typing
	// broadcasts say so (announced: false). Default
	// DefaultAnnounceMaxMembers; negative: every room is told.
	AnnounceMaxMembers int
	// PresenceMaxConnections: presence broadcasts go to a tenant holding
	// at most this many live connections (after the connect, after the
	// disconnect); larger tenants are not told (getOnlineUsers still is),
	// and their getOnlineUsers replies and room_update broadcasts say so
	// (announced: false). Default DefaultPresenceMaxConnections; negative:
	// every tenant is told.
	PresenceMaxConnections int

	// Limits (docs/protocol.md "Limits"): zero takes the Default*
	// constant; a negative rate or quota turns the limit off. The rates
	// are counted in this process's memory (per instance on AWS Lambda).
	ActionRate            float64 // DefaultActionRate: action frames per connection per second
	ActionBurst           int     // DefaultActionBurst
	TenantBytesRate       float64 // DefaultTenantBytesRate: bytes of action frames per tenant per second
	TenantBytesBurst      int     // DefaultTenantBytesBurst
	RoomCreateRate        float64 // DefaultRoomCreateRate: rooms created per user per minute
	RoomCreateBurst       int     // DefaultRoomCreateBurst
	MaxRoomsPerConnection int     // DefaultMaxRoomsPerConnection: rooms one connection may be in
	LimiterKeys           int     // DefaultLimiterKeys: keys each limiter remembers at most
	// LimitClock is the clock of the rate limits (default time.Now): they
	// measure the process's real load, not the time Now tells.
	LimitClock func() time.Time
	// CursorKey, when set, signs the cursors of listRooms and
	// getRoomHistory (HMAC-SHA256), so that only cursors this deployment
	// made are accepted; every instance of a deployment must share it.
	// Without it cursors are still bound to the listing, tenant, room or
	// user they were made for, but a client that knows the format can
	// make one for its own listings.
	CursorKey []byte

	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxContentBytes <= 0 {
		c.MaxContentBytes = DefaultMaxContentBytes
	}
	if c.ConnectionTTL <= 0 {
		c.ConnectionTTL = DefaultConnectionTTL
	}
	if c.TypingInterval <= 0 {
		c.TypingInterval = DefaultTypingInterval
	}
	if c.GoneGrace <= 0 {
		c.GoneGrace = DefaultGoneGrace
	}
	if c.FanoutThreshold <= 0 {
		c.FanoutThreshold = DefaultFanoutThreshold
	}
	if c.FanoutBatchSize <= 0 {
		c.FanoutBatchSize = DefaultFanoutBatchSize
	}
	if c.AnnounceMaxMembers == 0 {
		c.AnnounceMaxMembers = DefaultAnnounceMaxMembers
	}
	if c.PresenceMaxConnections == 0 {
		c.PresenceMaxConnections = DefaultPresenceMaxConnections
	}
	c.limitDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service holds the handlers' dependencies. It keeps no state of its own
// between events but its rate limits' token buckets (in memory, per
// process): it is safe to create one per Lambda instance.
type Service struct {
	store  store.Store
	push   push.Pusher
	tokens TokenVerifier
	cfg    Config
	log    *slog.Logger
	limits limits
}

// New returns the handlers over st and p; tokens may be nil if the
// authorizer is not served by this process.
func New(st store.Store, p push.Pusher, tokens TokenVerifier, cfg Config) *Service {
	cfg.defaults()
	return &Service{store: st, push: p, tokens: tokens, cfg: cfg, log: cfg.Logger, limits: newLimits(cfg)}
}

// identity is who sent an event, from the authorizer's context.
type identity struct {
	ConnectionID string
	UserID       string
	Username     string
	TenantID     string
}

var errNoIdentity = errors.New("chat: event carries no authorizer context (is the authorizer configured on $connect?)")

func identityOf(ev events.APIGatewayWebsocketProxyRequest) (identity, error) {
	ctx, _ := ev.RequestContext.Authorizer.(map[string]any)
	str := func(k string) string { s, _ := ctx[k].(string); return s }
	id := identity{ConnectionID: ev.RequestContext.ConnectionID, UserID: str("userId"), Username: str("username"), TenantID: str("tenantId")}
	if id.UserID == "" || id.TenantID == "" || id.ConnectionID == "" {
		return identity{}, errNoIdentity
	}
	if id.Username == "" {
		id.Username = id.UserID
	}
	return id, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// request is one action request as the handlers see it: who sent it
// (identity, including the connection), the requestId its reply carries,
// the action's data, and the outbox its broadcasts wait in until the
// router has posted the reply.
type request struct {
	id        identity
	requestID string
	data      json.RawMessage
	out       *outbox
}

// outbox holds the broadcasts of one event. A deferred outbox (an action
// request's) keeps them until flush, so that the sender's reply goes out
// first; a direct one (Connect, Disconnect, Cleanup, Fanout) posts each at
// once. Broadcasts that posting causes (a gone connection's user_left and
// offline) go through the same outbox, after those already in it.
type outbox struct {
	s        *Service
	deferred bool
	pending  []pending
}

type pending struct {
	ids []string
	b   broadcast
	// read: the connections ids were chosen from, as the store returned
	// them (nil if not from connections read): see connectionsGone.
	read []store.Connection
}

// deferredOutbox returns an outbox that holds broadcasts until flush.
func (s *Service) deferredOutbox() *outbox { return &outbox{s: s, deferred: true} }

// directOutbox returns an outbox that posts every broadcast at once.
func (s *Service) directOutbox() *outbox { return &outbox{s: s} }

// broadcast sends b to ids (built once, shared by every recipient, queued
// in batches for a large audience), now or at flush.
func (o *outbox) broadcast(ctx context.Context, ids []string, b broadcast) {
	o.broadcastRead(ctx, nil, ids, b)
}

// broadcastRead is broadcast to ids chosen from the connections read, as
// the store returned them: those of them found gone that the read shows
// younger than Config.GoneGrace are left alone without reading them again
// (connectionsGone).
func (o *outbox) broadcastRead(ctx context.Context, read []store.Connection, ids []string, b broadcast) {
	if len(ids) == 0 {
		return
	}
	if o.deferred {
		o.pending = append(o.pending, pending{ids: ids, b: b, read: read})
		return
	}
	o.s.broadcastNow(ctx, o, ids, b, read)
}

// flush posts the held broadcasts in order, including those they cause.
func (o *outbox) flush(ctx context.Context) {
	for i := 0; i < len(o.pending); i++ {
		p := o.pending[i]
		o.s.broadcastNow(ctx, o, p.ids, p.b, p.read)
	}
	o.pending = nil
}

// reply sends one reply to the requesting connection.
func (s *Service) reply(ctx context.Context, to string, r reply) {
	r.Timestamp = timestamp(s.now())
	b, err := json.Marshal(r)
	if err != nil {
		s.log.Error("encoding reply", "err", err)
		return
	}
	if err := s.push.Post(ctx, to, b); err != nil && !errors.Is(err, push.ErrGone) {
		s.log.Warn("sending reply", "connectionId", to, "err", err)
	}
}

func (s *Service) success(ctx context.Context, to, requestID string, data any) {
	s.reply(ctx, to, reply{Type: protocol.ReplySuccess, Data: data, RequestID: requestID})
}

func (s *Service) fail(ctx context.Context, to, requestID string, e *apiError) {
	r := reply{Type: protocol.ReplyError, Error: e.Message, Code: e.Code, RequestID: requestID}
	if e.RetryAfter > 0 {
		r.RetryAfterMs = max(int64((e.RetryAfter+time.Millisecond-1)/time.Millisecond), 1)
	}
	s.reply(ctx, to, r)
}

// broadcastNow posts one broadcast and cleans up the connections found
// gone, through out; read, if not nil, holds the connections ids were
// chosen from (connectionsGone).
func (s *Service) broadcastNow(ctx context.Context, out *outbox, ids []string, b broadcast, read []store.Connection) {
	b.Timestamp = timestamp(s.now())
	data, err := json.Marshal(b)
	if err != nil {
		s.log.Error("encoding broadcast", "err", err)
		return
	}
	gone, err := s.post(ctx, ids, data)
	if err != nil {
		s.log.Warn("broadcast partly failed", "type", b.Type, "err", err)
	}
	s.connectionsGone(ctx, out, gone, read)
}

// connectionsGone is connectionGone of each of gone, but for those that
// read (the connections the broadcast's recipients were chosen from, as
// the store returned them) shows live and younger than Config.GoneGrace:
// they are left alone without reading them again, as connectionGone would
// leave them. A connection is gone while its $connect is under way (the
// management API answers 410 until the handshake completes), so a
// presence broadcast in a tenant where others are connecting finds gone
// every connection still in $connect: one GetConnection round trip each,
// about half a round trip per connection when 10,000 connect at once.
// The read cannot make a connection look younger or longer-lived than the
// store holds it: a connection's ConnectedAt is set when it is stored (a
// restore stores it again, later) and its expiry only moves later; one
// deleted since is no more to remove.
func (s *Service) connectionsGone(ctx context.Context, out *outbox, gone []string, read []store.Connection) {
	var young map[string]bool
	if len(gone) > 0 && len(read) > 0 {
		now := s.now()
		young = make(map[string]bool, len(gone))
		for _, id := range gone {
			young[id] = false
		}
		for _, c := range read {
			if _, ok := young[c.ConnectionID]; ok && c.ExpiresAt.After(now) && now.Sub(c.ConnectedAt) < s.cfg.GoneGrace {
				young[c.ConnectionID] = true
			}
		}
	}
	for _, id := range gone {
		if !young[id] {
			s.connectionGone(ctx, out, id)
		}
	}
}

// connectionGone removes a connection the management API called gone: its
// $disconnect was missed. A very young connection is left alone.
func (s *Service) connectionGone(ctx context.Context, out *outbox, id string) {
	c, err := s.store.GetConnection(ctx, id)
	if err == nil && s.now().Sub(c.ConnectedAt) < s.cfg.GoneGrace {
		return
	}
	if err := s.dropConnection(ctx, out, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("removing gone connection", "connectionId", id, "err", err)
	}
}

// internal logs err and returns the reply for it; details stay in the log.
func (s *Service) internal(err error) *apiError {
	ref := store.NewID(s.now())
	s.log.Error("request failed", "ref", ref, "err", err)
	return errorf(protocol.CodeInternal, "internal error (reference %s)", ref)
}
