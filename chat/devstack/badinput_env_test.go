package devstack_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
	"github.com/switchboard-ws/switchboard/queue"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// The identity provider of the bad-input stack: tokens are RS256, from a
// JWK Set the test serves, with an issuer and an audience that are
// checked — so that algorithm confusion, foreign keys, issuers and
// audiences can be tried. HS256 stays accepted with the dev secret, as in
// `switchboard dev --jwks-url`.
const (
	badIssuer   = "https://idp.badinput.example"
	badAudience = "switchboard-badinput"
	badKID      = "badinput-1"
	// offenderPrefix names the users whose connections the frame cases
	// open and the server closes: the snapshot leaves their own
	// connection out (each case waits until it is gone).
	offenderPrefix = "mallory-"
)

// Access key of the gateway whose management API requires SigV4.
const (
	mgmtKeyID  = "AKIDBADINPUT"
	mgmtSecret = "badinput-s3cret"
)

// badEnv is the running system the corpus attacks, and what the cases need
// to know about it: one dev stack shared by every case (on a frozen clock,
// so heartbeats leave the store as it was), two tenants, their rooms and
// messages, and a gateway whose management API requires SigV4.
type badEnv struct {
	stack *devstack.Stack
	tg    *chattest.Target
	rsa   *rsa.PrivateKey
	clock *chattest.Clock

	acme, evil string   // tenants: acme is the offenders', evil the bystander's
	tenants    []string // the tenants the snapshot lists
	users      []string // the users whose rooms the snapshot lists

	alice, bob, eve *chattest.Client
	eveConn         string // the bystander's connection id

	lobby, side, unjoined, private chattest.Room // acme's rooms (alice is in lobby and side)
	evilRoom                       chattest.Room // the bystander's room
	probeRoom                      chattest.Room // the bystander's round trips (their messages are not in the snapshot)
	aliceMsg, bobMsg, deletedMsg   chattest.Message
	sideMsg, evilMsg               chattest.Message
	historyCursor, eveCursor       string // lobby's (alice), evilRoom's (eve)

	// carol, of tenant crowd (not in the snapshot: it has 101 rooms), is in
	// as many rooms as a connection may be; crowdExtra is one more.
	crowd, crowdExtra, carolConn string
	carol                        *chattest.Client
	roomsCursor, bobRoomsCursor  string // alice's and bob's room lists

	signed struct {
		url    string
		target *websocket.Conn
		id     string
		seq    atomic.Int64
	}
	offenders atomic.Int64
	last      []string // the snapshot after the last case that passed: the next one's "before"
	tb        *caseT
	cleanup   func(func()) // the test's Cleanup
	probes    atomic.Int64
}

// newBadEnv starts the stack and sets the scene: on the embedded store,
// or on the one open returns (given the test's clock).
func newBadEnv(t *testing.T, open func(now func() time.Time) store.Store) *badEnv {
	t.Helper()
	e := &badEnv{clock: chattest.NewClock()}
	var err error
	if e.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{rsaJWK(badKID, &e.rsa.PublicKey)}})
	}))
	t.Cleanup(jwks.Close)
	e.cleanup = t.Cleanup

	var backing store.Store
	if open != nil {
		backing = open(e.clock.Now)
	}
	st, err := devstack.New(devstack.Options{
		Store:         backing,
		DataDir:       t.TempDir(),
		SweepInterval: time.Hour,
		Auth:          auth.Config{JWKSURL: jwks.URL, Issuer: badIssuer, Audience: badAudience},
		FanoutQueue:   queue.LocalOptions{Logger: testutil.DiscardLogger()},
		Now:           e.clock.Now,
		Logger:        testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e.stack = st
	e.tg = &chattest.Target{
		URL: st.URL(),
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return e.token(jwt.SigningMethodRS256, e.rsa, badKID, e.claims(id.UserID, id.Username, id.TenantID, issuedAt, ttl)), nil
		},
		Store: st.Store, Sweep: st.Sweep, Settle: st.Queue.Flush, Clock: e.clock,
	}

	e.acme, e.evil = "acme-badinput", "evil-badinput"
	// Every known user in every tenant a token could name (the default
	// one too): a room created where it should not be shows.
	e.tenants = []string{e.acme, e.evil, auth.DefaultTenantID}
	e.users = []string{"alice", "bob", "eve"}
	// The clients outlive each case: their failures go to the case running.
	e.tb = &caseT{TB: t}
	e.alice = e.tg.Connect(e.tb, "alice", "Alice", e.acme)
	e.bob = e.tg.Connect(e.tb, "bob", "Bob", e.acme)
	e.eve = e.tg.Connect(e.tb, "eve", "Eve", e.evil)

	e.alice.OK("createRoom", map[string]any{"name": "Lobby", "description": "the lobby"}, &e.lobby)
	e.alice.OK("createRoom", map[string]any{"name": "Side"}, &e.side)
	e.bob.OK("createRoom", map[string]any{"name": "Unjoined"}, &e.unjoined)
	e.bob.OK("createRoom", map[string]any{"name": "Bob's", "isPrivate": true}, &e.private)
	e.eve.OK("createRoom", map[string]any{"name": "Evil"}, &e.evilRoom)
	for _, r := range []chattest.Room{e.lobby, e.side} {
		e.alice.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
	}
	e.bob.OK("joinRoom", map[string]any{"roomId": e.lobby.RoomID}, nil)
	e.eve.OK("joinRoom", map[string]any{"roomId": e.evilRoom.RoomID}, nil)
	e.eve.OK("createRoom", map[string]any{"name": "Probes"}, &e.probeRoom)
	e.eve.OK("joinRoom", map[string]any{"roomId": e.probeRoom.RoomID}, nil)

	e.alice.OK("sendMessage", map[string]any{"roomId": e.lobby.RoomID, "content": "alice's"}, &e.aliceMsg)
	e.bob.OK("sendMessage", map[string]any{"roomId": e.lobby.RoomID, "content": "bob's"}, &e.bobMsg)
	e.alice.OK("sendMessage", map[string]any{"roomId": e.lobby.RoomID, "content": "to delete"}, &e.deletedMsg)
	e.alice.OK("deleteMessage", map[string]any{"messageId": e.deletedMsg.MessageID}, nil)
	e.alice.OK("sendMessage", map[string]any{"roomId": e.side.RoomID, "content": "on the side"}, &e.sideMsg)
	e.eve.OK("sendMessage", map[string]any{"roomId": e.evilRoom.RoomID, "content": "eve's first"}, nil)
	e.eve.OK("sendMessage", map[string]any{"roomId": e.evilRoom.RoomID, "content": "eve's"}, &e.evilMsg)
	var page struct {
		Cursor *string `json:"cursor"`
	}
	e.alice.OK("getRoomHistory", map[string]any{"roomId": e.lobby.RoomID, "limit": 1}, &page)
	if page.Cursor == nil {
		t.Fatal("no history cursor")
	}
	e.historyCursor = *page.Cursor
	e.eve.OK("getRoomHistory", map[string]any{"roomId": e.evilRoom.RoomID, "limit": 1}, &page)
	if page.Cursor == nil {
		t.Fatal("no history cursor for eve")
	}
	e.eveCursor = *page.Cursor
	var rooms struct {
		Cursor *string `json:"cursor"`
	}
	e.alice.OK("listRooms", map[string]any{"limit": 1}, &rooms)
	e.bob.OK("listRooms", map[string]any{"limit": 1}, &page)
	if rooms.Cursor == nil || page.Cursor == nil {
		t.Fatal("no room list cursor")
	}
	e.roomsCursor, e.bobRoomsCursor = *rooms.Cursor, *page.Cursor

	conns, err := st.Store.UserConnections(context.Background(), e.evil, "eve")
	if err != nil || len(conns) != 1 {
		t.Fatalf("eve's connections: %v %v", conns, err)
	}
	e.eveConn = conns[0].ConnectionID
	drain(e.eve) // the scene's broadcasts
	e.crowdScene(t)
	e.startSigned(t)
	return e
}

// crowdScene puts carol, a user of her own tenant, in the most rooms a
// connection may be in (the rooms are made in the store: creating them
// through the API would meet the room creation rate).
func (e *badEnv) crowdScene(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	e.crowd = "crowd-badinput"
	e.carol = e.tg.Connect(e.tb, "carol", "Carol", e.crowd)
	for i := 0; i <= chat.DefaultMaxRoomsPerConnection; i++ {
		r := store.Room{TenantID: e.crowd, RoomID: fmt.Sprintf("crowd-%03d", i), Name: fmt.Sprintf("Crowd %d", i),
			CreatedBy: "carol", CreatedAt: e.clock.Now()}
		if err := e.stack.Store.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i < chat.DefaultMaxRoomsPerConnection {
			e.carol.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
		} else {
			e.crowdExtra = r.RoomID
		}
	}
	conns, err := e.stack.Store.UserConnections(ctx, e.crowd, "carol")
	if err != nil || len(conns) != 1 {
		t.Fatalf("carol's connections: %v %v", conns, err)
	}
	e.carolConn = conns[0].ConnectionID
}

// caseT is the testing.TB of the long-lived clients: it reports to the case
// running (set by runBadCase), or to the test that made them between cases.
type caseT struct {
	testing.TB
	mu  sync.Mutex
	cur testing.TB
}

func (c *caseT) t() testing.TB {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur
	}
	return c.TB
}

func (c *caseT) set(t testing.TB) { c.mu.Lock(); c.cur = t; c.mu.Unlock() }

func (c *caseT) Helper()                        {}
func (c *caseT) Fatalf(format string, a ...any) { c.t().Helper(); c.t().Fatalf(format, a...) }
func (c *caseT) Fatal(a ...any)                 { c.t().Helper(); c.t().Fatal(a...) }
func (c *caseT) Errorf(format string, a ...any) { c.t().Helper(); c.t().Errorf(format, a...) }
func (c *caseT) Error(a ...any)                 { c.t().Helper(); c.t().Error(a...) }
func (c *caseT) Logf(format string, a ...any)   { c.t().Helper(); c.t().Logf(format, a...) }

// drain consumes every frame c has received.
func drain(c *chattest.Client) {
	for {
		f, ok := c.Arrived(func(chattest.Frame) bool { return true })
		if !ok {
			return
		}
		c.Next(func(g chattest.Frame) bool { return g.Raw == f.Raw }, "a frame to drain")
	}
}

// rsaJWK is the JWK of an RSA public key.
func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

// attackerJWKS serves a JWK Set with key's public half (under the stack's
// kid) and returns its URL: what a token's jku would point to.
func (e *badEnv) attackerJWKS(key *rsa.PrivateKey) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{rsaJWK(badKID, &key.PublicKey)}})
	}))
	e.cleanup(srv.Close)
	return srv.URL
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claims are those of a valid token for a user of a tenant.
func (e *badEnv) claims(sub, username, tenant string, issuedAt time.Time, ttl time.Duration) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": sub, "username": username, "tenantId": tenant,
		"iss": badIssuer, "aud": badAudience,
		"iat": issuedAt.Unix(), "nbf": issuedAt.Unix(), "exp": issuedAt.Add(ttl).Unix(),
	}
}

// validClaims are a valid token's claims for alice, now.
func (e *badEnv) validClaims() jwt.MapClaims {
	return e.claims("alice", "Alice", e.acme, e.clock.Now(), time.Hour)
}

// token signs claims with method and key, with kid in the header ("" for none).
func (e *badEnv) token(method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

// flipLast changes the last character of a base64url string.
func flipLast(s string) string {
	c := byte('A')
	if s[len(s)-1] == 'A' {
		c = 'B'
	}
	return s[:len(s)-1] + string(c)
}

// rawToken assembles a token from a header, claims and a signature segment.
func rawToken(header, claims any, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "." + sig
}

// dialStatus opens a WebSocket with the token in ?token= and returns the
// HTTP status (101 when it connected; the connection is then closed).
func (e *badEnv) dialStatus(t *testing.T, token string) int {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.stack.URL()+"?token="+token, nil)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: no HTTP answer: %v", err)
	}
	return resp.StatusCode
}

// snapshot lists what the store holds for the tenants: every room a known
// user may see, its members and its messages, and the tenants'
// connections, leaving out the offenders' own connections and memberships
// (the frame cases wait until those are gone).
func (e *badEnv) snapshot(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	st := e.stack.Store
	var out []string
	for _, tenant := range e.tenants {
		rooms := map[string]store.Room{}
		for _, u := range e.users {
			page := store.Page{Limit: 100}
			for {
				rs, next, err := st.ListRooms(ctx, tenant, u, store.RoomsAll, page)
				if err != nil {
					t.Fatalf("snapshot: ListRooms: %v", err)
				}
				for _, r := range rs {
					rooms[r.RoomID] = r
				}
				if next == "" {
					break
				}
				page.Cursor = next
			}
		}
		for _, r := range rooms {
			out = append(out, fmt.Sprintf("room %+v", r))
			ms, err := st.RoomMembers(ctx, tenant, r.RoomID)
			if err != nil {
				t.Fatalf("snapshot: RoomMembers: %v", err)
			}
			for m := range ms.All() {
				if !strings.HasPrefix(m.UserID, offenderPrefix) {
					out = append(out, fmt.Sprintf("member %+v", m))
				}
			}
			if tenant == e.evil && r.RoomID == e.probeRoom.RoomID {
				// One more message after each case: listing them made the
				// corpus quadratic (most of its CPU).
				continue
			}
			page := store.Page{Limit: 100}
			for {
				msgs, next, err := st.ListMessages(ctx, tenant, r.RoomID, page)
				if err != nil {
					t.Fatalf("snapshot: ListMessages: %v", err)
				}
				for _, m := range msgs {
					out = append(out, fmt.Sprintf("message %+v", m))
				}
				if next == "" {
					break
				}
				page.Cursor = next
			}
		}
		cs, err := st.TenantConnections(ctx, tenant)
		if err != nil {
			t.Fatalf("snapshot: TenantConnections: %v", err)
		}
		for _, c := range cs {
			if !strings.HasPrefix(c.UserID, offenderPrefix) {
				out = append(out, fmt.Sprintf("connection %+v", c))
			}
		}
	}
	slices.Sort(out)
	return out
}

// sameStore fails the test with the difference if the store changed.
func sameStore(t *testing.T, before, after []string) {
	t.Helper()
	if slices.Equal(before, after) {
		return
	}
	var gone, added []string
	for _, s := range before {
		if !slices.Contains(after, s) {
			gone = append(gone, s)
		}
	}
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	t.Errorf("the store changed:\n  removed: %q\n  added:   %q", gone, added)
}

// serverUp checks that the HTTP listener still answers (GET /metrics).
func (e *badEnv) serverUp(t *testing.T) {
	t.Helper()
	resp, err := http.Get("http://" + e.stack.Addr() + "/metrics")
	if err != nil {
		t.Fatalf("server down: GET /metrics: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("server: GET /metrics: HTTP %d", resp.StatusCode)
	}
}

// bystanderRoundTrip: the other tenant's client still sends a message and
// hears it back, and has received nothing else (no frame the offender
// caused, nothing the management API should have refused to deliver).
func (e *badEnv) bystanderRoundTrip(t *testing.T) {
	t.Helper()
	content := fmt.Sprintf("round trip %d", e.probes.Add(1))
	e.eve.OK("sendMessage", map[string]any{"roomId": e.probeRoom.RoomID, "content": content}, nil)
	e.eve.Broadcast("message", e.probeRoom.RoomID, func(d map[string]any) bool { return d["content"] == content })
	e.eve.Quiet(func(chattest.Frame) bool { return true }, "frame")
}

// rawConn is an offender's WebSocket connection spoken byte by byte, so
// that it can send what no WebSocket library would.
type rawConn struct {
	nc   net.Conn
	br   *bufio.Reader
	user string
}

// dialRaw connects a fresh offender of acme (its own user, so that its
// connection is told apart in the store) with the handshake written by hand.
func (e *badEnv) dialRaw(t *testing.T) *rawConn {
	t.Helper()
	user := fmt.Sprintf("%s%d", offenderPrefix, e.offenders.Add(1))
	tok, err := e.tg.Token(auth.Identity{UserID: user, Username: user, TenantID: e.acme}, e.clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", e.stack.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second)) // a hung case fails instead of hanging
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(nc, "GET /%s?token=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", devstack.Stage, tok, e.stack.Addr(), base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: HTTP %d", resp.StatusCode)
	}
	return &rawConn{nc: nc, br: br, user: user}
}

// rawStatus sends one raw HTTP request and returns the status of the answer.
func rawStatus(t *testing.T, addr, req string) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("no HTTP answer: %v", err)
	}
	return resp.StatusCode
}

// write sends bytes as they are.
func (c *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closeCode reads frames until the server's close frame and returns its
// code (0 when the connection ended without one), then answers the close
// and hangs up, as a client would.
func (c *rawConn) closeCode(t *testing.T) (int, string) {
	t.Helper()
	var h wsproto.Header
	buf := make([]byte, wsproto.MaxHeaderSize)
	for {
		if err := wsproto.ReadHeader(c.br, buf, &h); err != nil {
			return 0, "no close frame: " + err.Error()
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, "no close frame: " + err.Error()
		}
		if h.Op != wsproto.OpClose {
			continue // broadcasts (presence) may come first
		}
		code, reason, _ := wsproto.ParseClosePayload(p)
		c.nc.Write(frame(0x80|byte(wsproto.OpClose), wsproto.ClosePayload(wsproto.CloseNormal, ""), true))
		c.nc.Close()
		return code, reason
	}
}

// frame builds one frame: b0 is the first byte (FIN, RSV bits, opcode);
// masked frames get a random mask, as clients must send them.
func frame(b0 byte, payload []byte, masked bool) []byte {
	out := []byte{b0}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n <= 0xffff:
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	var mask [4]byte
	rand.Read(mask[:])
	out = append(out, mask[:]...)
	for i, b := range payload {
		out = append(out, b^mask[i%4])
	}
	return out
}

// closePayload is a close frame's payload with any code and raw reason.
func closePayload(code uint16, reason []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// waitGone waits until the offender's connection left the store: the
// server closed it and ran $disconnect (no ghost).
func (e *badEnv) waitGone(t *testing.T, user string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool {
		cs, err := e.stack.Store.UserConnections(context.Background(), e.acme, user)
		return err == nil && len(cs) == 0
	}, "%s's connection to leave the store", user)
}

// startSigned serves a second gateway, whose management API requires
// SigV4 with a configured credential (as `switchboard serve` with
// credentials and AWS do), with one connection to post to.
func (e *badEnv) startSigned(t *testing.T) {
	t.Helper()
	ids := make(chan string, 1)
	ok := gateway.HandlerFunc(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	gw, err := gateway.New(gateway.Options{
		Stage:       devstack.Stage,
		Credentials: sigv4.Credentials{mgmtKeyID: mgmtSecret},
		Routes: map[string]gateway.Route{
			gateway.RouteConnect: {Integration: gateway.HandlerFunc(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				ids <- ev.RequestContext.ConnectionID
				return events.APIGatewayProxyResponse{StatusCode: 200}, nil
			})},
			gateway.RouteDefault: {Integration: ok},
		},
		Logger: testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		srv.Close()
	})
	e.signed.url = srv.URL + "/" + devstack.Stage
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.signed.url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.signed.target, e.signed.id = conn, <-ids
}

// signedRequest builds a management API request on the signed gateway,
// signed with the given credential, service and time.
func (e *badEnv) signedRequest(t *testing.T, method, id, body, keyID, secret, service string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.signed.url+"/@connections/"+id, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), service, "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// signedNothingDelivered: a correctly signed post to the signed gateway's
// connection is the next thing it reads, so the refused ones before it
// delivered nothing.
func (e *badEnv) signedNothingDelivered(t *testing.T) {
	t.Helper()
	probe := fmt.Sprintf("probe %d", e.signed.seq.Add(1))
	resp, err := http.DefaultClient.Do(e.signedRequest(t, http.MethodPost, e.signed.id, probe, mgmtKeyID, mgmtSecret, "execute-api", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed probe post: HTTP %d", resp.StatusCode)
	}
	e.signed.target.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, got, err := e.signed.target.ReadMessage()
	if err != nil {
		t.Fatalf("signed gateway's connection: %v", err)
	}
	if string(got) != probe {
		t.Fatalf("signed gateway's connection received %q before the probe: a refused post was delivered", got)
	}
}
