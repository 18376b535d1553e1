package devstack_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// badCase is one bad input: run sends it and checks what the sender is
// told; TestBadInput checks the rest (server up, store unchanged, the
// other tenant's client unaffected).
type badCase struct {
	name string
	run  func(t *testing.T, e *badEnv)
}

// TestBadInput is the bad-input corpus (issue 12): WebSocket frames, JSON,
// every chat action's fields, JWTs and the management API, each sent to
// one running dev stack over loopback by a real client. Each case asserts
// the error the sender gets (close code, error code, HTTP status); then
// that the server still answers, that the store holds what it held before
// (rooms, members, messages, connections other than the offender's own),
// and that a client of another tenant still makes its round trip and
// received nothing else.
func TestBadInput(t *testing.T) {
	t.Parallel()
	runBadInput(t, newBadEnv(t, nil))
}

// TestBadInputOnPostgres: the same corpus on the PostgreSQL store, whose
// columns refuse what SQLite stores (a NUL in a text id): such input must
// still be told apart from a failure of the server.
func TestBadInputOnPostgres(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	runBadInput(t, newBadEnv(t, func(now func() time.Time) store.Store {
		st, err := postgres.Open(t.Context(), url, postgres.Options{Now: now, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}))
}

func runBadInput(t *testing.T, e *badEnv) {
	cases := badInputCases(e)
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { runBadCase(t, e, c) })
	}
}

func runBadCase(t *testing.T, e *badEnv, c badCase) {
	t.Helper()
	e.tb.set(t)
	defer e.tb.set(nil)
	before := e.last
	if before == nil {
		before = e.snapshot(t)
	}
	e.last = nil
	c.run(t, e)
	if t.Failed() {
		return
	}
	e.serverUp(t)
	after := e.snapshot(t)
	sameStore(t, before, after)
	e.bystanderRoundTrip(t)
	if !t.Failed() {
		e.last = after // the round trip's message is not in it
	}
}

func badInputCases(e *badEnv) []badCase {
	var cs []badCase
	cs = append(cs, handshakeCases()...)
	cs = append(cs, frameCases()...)
	cs = append(cs, jsonCases(e)...)
	cs = append(cs, actionCases(e)...)
	cs = append(cs, jwtCases(e)...)
	cs = append(cs, managementCases(e)...)
	return cs
}

// ---- the WebSocket handshake ------------------------------------------------

// handshakeCase: an upgrade request with a valid token but a broken
// handshake (method and headers given; Host and the token are added) must
// be refused with status before the connection is stored.
func handshakeCase(name, method string, header map[string]string, status int) badCase {
	return badCase{"handshake/" + name, func(t *testing.T, e *badEnv) {
		tok, err := e.tg.Token(auth.Identity{UserID: "alice", Username: "Alice", TenantID: e.acme}, e.clock.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var req strings.Builder
		fmt.Fprintf(&req, "%s /%s?token=%s HTTP/1.1\r\nHost: %s\r\n", method, devstack.Stage, tok, e.stack.Addr())
		for k, v := range header {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
		req.WriteString("Content-Length: 0\r\n\r\n")
		if got := rawStatus(t, e.stack.Addr(), req.String()); got != status {
			t.Fatalf("HTTP %d, want %d", got, status)
		}
	}}
}

func handshakeCases() []badCase {
	h := func(drop string, set ...string) map[string]string {
		out := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
		delete(out, drop)
		for i := 0; i < len(set); i += 2 {
			out[set[i]] = set[i+1]
		}
		return out
	}
	return []badCase{
		handshakeCase("no Upgrade header", http.MethodGet, h("Upgrade"), http.StatusUpgradeRequired),
		handshakeCase("Upgrade to h2c", http.MethodGet, h("", "Upgrade", "h2c"), http.StatusUpgradeRequired),
		handshakeCase("POST", http.MethodPost, h(""), http.StatusMethodNotAllowed),
		handshakeCase("Connection without upgrade", http.MethodGet, h("", "Connection", "keep-alive"), http.StatusBadRequest),
		handshakeCase("version 8", http.MethodGet, h("", "Sec-WebSocket-Version", "8"), http.StatusUpgradeRequired),
		handshakeCase("version missing", http.MethodGet, h("Sec-WebSocket-Version"), http.StatusUpgradeRequired),
		handshakeCase("key missing", http.MethodGet, h("Sec-WebSocket-Key"), http.StatusBadRequest),
		handshakeCase("key of 15 bytes", http.MethodGet, h("", "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA"), http.StatusBadRequest),
		handshakeCase("key not base64", http.MethodGet, h("", "Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="), http.StatusBadRequest),
	}
}

// ---- WebSocket frames -------------------------------------------------------

// frameCase: a fresh offender connection sends raw bytes and must be
// closed with code, and its connection must leave the store.
func frameCase(name string, code int, raw ...[]byte) badCase {
	return badCase{"frame/" + name, func(t *testing.T, e *badEnv) {
		c := e.dialRaw(t)
		for _, b := range raw {
			c.write(t, b)
		}
		got, reason := c.closeCode(t)
		if got != code {
			t.Fatalf("close code %d (%s), want %d", got, reason, code)
		}
		e.waitGone(t, c.user)
	}}
}

func frameCases() []badCase {
	const (
		fin    = 0x80
		text   = fin | byte(wsproto.OpText)
		proto  = wsproto.CloseProtocolError
		ping   = `{"action":"ping"}`
		tooBig = wsproto.CloseMessageTooBig
	)
	masked := func(b0 byte, p string) []byte { return frame(b0, []byte(p), true) }
	long := strings.Repeat("a", 30000)
	return []badCase{
		frameCase("reserved data opcode 0x3", proto, masked(fin|0x3, ping)),
		frameCase("reserved control opcode 0xB", proto, masked(fin|0xB, "")),
		frameCase("RSV1 set without extension", proto, masked(text|0x40, ping)),
		frameCase("RSV2 set", proto, masked(text|0x20, ping)),
		frameCase("RSV3 set", proto, masked(text|0x10, ping)),
		frameCase("unmasked text frame", proto, frame(text, []byte(ping), false)),
		frameCase("unmasked ping", proto, frame(fin|byte(wsproto.OpPing), nil, false)),
		frameCase("binary frame", wsproto.CloseUnsupportedData, frame(fin|byte(wsproto.OpBinary), []byte(ping), true)),
		frameCase("fragmented ping", proto, masked(byte(wsproto.OpPing), "x")),
		frameCase("ping payload of 126 bytes", proto, masked(fin|byte(wsproto.OpPing), strings.Repeat("p", 126))),
		frameCase("continuation without a message", proto, masked(fin|byte(wsproto.OpContinuation), ping)),
		frameCase("new text frame inside a fragmented message", proto,
			masked(byte(wsproto.OpText), `{"action":`), masked(text, ping)),
		// Binary is refused wherever it comes (RFC 6455 allows 1003 or 1002).
		frameCase("binary frame inside a text message", wsproto.CloseUnsupportedData,
			masked(byte(wsproto.OpText), `{"action":`), masked(fin|byte(wsproto.OpBinary), `"ping"}`)),
		frameCase("frame over 32 KB", tooBig, masked(text, strings.Repeat("a", 32<<10+1))),
		frameCase("message over 128 KB in fragments", tooBig,
			masked(byte(wsproto.OpText), long), masked(byte(wsproto.OpContinuation), long), masked(byte(wsproto.OpContinuation), long),
			masked(byte(wsproto.OpContinuation), long), masked(fin|byte(wsproto.OpContinuation), long)),
		frameCase("length not minimally encoded", proto, []byte{text, 0x80 | 126, 0, 5, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}),
		frameCase("64-bit length with the top bit set", proto, []byte{text, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}),
		frameCase("invalid UTF-8 byte 0xff", wsproto.CloseInvalidPayload, frame(text, []byte("{\"action\":\"\xff\"}"), true)),
		frameCase("overlong UTF-8 encoding", wsproto.CloseInvalidPayload, frame(text, []byte("{\"a\":\"\xc0\xaf\"}"), true)),
		frameCase("UTF-16 surrogate in UTF-8", wsproto.CloseInvalidPayload, frame(text, []byte("{\"a\":\"\xed\xa0\x80\"}"), true)),
		frameCase("UTF-8 sequence cut at the end of a fragmented message", wsproto.CloseInvalidPayload,
			masked(byte(wsproto.OpText), `{"a":"`), frame(fin|byte(wsproto.OpContinuation), []byte("\xe2\x82"), true)),
		frameCase("close payload of one byte", proto, frame(fin|byte(wsproto.OpClose), []byte{0x03}, true)),
		frameCase("close code 1005 (never sent)", proto, frame(fin|byte(wsproto.OpClose), closePayload(1005, nil), true)),
		frameCase("close code 1006 (never sent)", proto, frame(fin|byte(wsproto.OpClose), closePayload(1006, nil), true)),
		frameCase("close code 999", proto, frame(fin|byte(wsproto.OpClose), closePayload(999, nil), true)),
		frameCase("close code 1004 (reserved)", proto, frame(fin|byte(wsproto.OpClose), closePayload(1004, nil), true)),
		frameCase("close code 2000", proto, frame(fin|byte(wsproto.OpClose), closePayload(2000, nil), true)),
		frameCase("close code 5000", proto, frame(fin|byte(wsproto.OpClose), closePayload(5000, nil), true)),
		frameCase("close payload of 126 bytes", proto, frame(fin|byte(wsproto.OpClose), closePayload(1000, []byte(strings.Repeat("r", 124))), true)),
		frameCase("close reason not UTF-8", proto, frame(fin|byte(wsproto.OpClose), closePayload(1000, []byte{0xff, 0xfe}), true)),
	}
}

// ---- JSON and the envelope ---------------------------------------------------

// replyCase: alice sends body (raw text) and must get an error reply with
// code, carrying requestID (when the body has one) and a message.
func replyCase(name, body, code, requestID string) badCase {
	return badCase{name, func(t *testing.T, e *badEnv) {
		e.alice.Send(body)
		var f = e.alice.Next(func(f chattest.Frame) bool {
			return f.Type == protocol.ReplyError || (f.Type == protocol.ReplySuccess && f.RequestID == requestID)
		}, "reply")
		if f.Type != protocol.ReplyError || f.Code != code || f.RequestID != requestID || f.Error == "" || f.Timestamp == "" {
			t.Fatalf("got %s, want error %s with requestId %q", f.Raw, code, requestID)
		}
	}}
}

func jsonCases(e *badEnv) []badCase {
	const (
		invalidJSON = protocol.CodeInvalidJSON
		invalid     = protocol.CodeInvalidRequest
	)
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	return []badCase{
		replyCase("json/not JSON", `hello`, invalidJSON, ""),
		replyCase("json/empty message", ``, invalidJSON, ""),
		replyCase("json/truncated object", `{"action":"ping","requestId":"j1"`, invalidJSON, ""),
		replyCase("json/array", `[{"action":"ping"}]`, invalidJSON, ""),
		replyCase("json/string", `"ping"`, invalidJSON, ""),
		replyCase("json/number", `42`, invalidJSON, ""),
		replyCase("json/boolean", `true`, invalidJSON, ""),
		replyCase("json/two objects", `{"action":"ping"}{"action":"ping"}`, invalidJSON, ""),
		replyCase("json/trailing garbage", `{"action":"ping"} x`, invalidJSON, ""),
		replyCase("json/byte order mark", "\ufeff{\"action\":\"ping\"}", invalidJSON, ""),
		replyCase("json/nesting 10001 deep", `{"action":"createRoom","data":{"name":"deep","x":`+deep+`},"requestId":"j2"}`, invalidJSON, ""),
		replyCase("json/huge number as limit", `{"action":"listRooms","data":{"limit":1e999},"requestId":"j3"}`, invalid, "j3"),
		replyCase("json/limit beyond int64", `{"action":"listRooms","data":{"limit":99999999999999999999999},"requestId":"j4"}`, invalid, "j4"),
		replyCase("json/empty object", `{}`, invalid, ""),
		replyCase("json/null", `null`, invalidJSON, ""),
		replyCase("envelope/action null", `{"action":null,"requestId":"j19"}`, invalid, "j19"),
		replyCase("envelope/action missing", `{"data":{},"requestId":"j5"}`, invalid, "j5"),
		replyCase("envelope/action a number", `{"action":7,"requestId":"j6"}`, invalid, "j6"),
		replyCase("envelope/action an object", `{"action":{"name":"ping"},"requestId":"j7"}`, invalid, "j7"),
		replyCase("envelope/unknown action", `{"action":"dropTables","requestId":"j8"}`, protocol.CodeUnknownAction, "j8"),
		replyCase("envelope/empty action", `{"action":"","requestId":"j9"}`, invalid, "j9"),
		replyCase("envelope/action in the wrong case", `{"action":"CreateRoom","data":{"name":"x"},"requestId":"j10"}`, protocol.CodeUnknownAction, "j10"),
		// Route keys the gateway reserves: a message never runs $connect or
		// $disconnect (the store check sees alice's connection stay).
		replyCase("envelope/action $disconnect", `{"action":"$disconnect","requestId":"j16"}`, protocol.CodeUnknownAction, "j16"),
		replyCase("envelope/action $connect", `{"action":"$connect","requestId":"j17"}`, protocol.CodeUnknownAction, "j17"),
		replyCase("envelope/action $default", `{"action":"$default","requestId":"j18"}`, protocol.CodeUnknownAction, "j18"),
		replyCase("envelope/data a string", `{"action":"createRoom","data":"name","requestId":"j11"}`, invalid, "j11"),
		replyCase("envelope/data an array", `{"action":"createRoom","data":[{"name":"x"}],"requestId":"j12"}`, invalid, "j12"),
		replyCase("envelope/requestId a number", `{"action":"ping","requestId":17}`, invalid, ""),
		replyCase("envelope/requestId over 128 characters", `{"action":"ping","requestId":"`+strings.Repeat("r", 129)+`"}`, invalid, ""),
		// Duplicate keys: the last one wins, in the route selection and in
		// the handler alike; neither the first action nor the first field
		// slips through.
		replyCase("duplicate keys/action", `{"action":"createRoom","action":"dropTables","data":{"name":"dup"},"requestId":"j13"}`, protocol.CodeUnknownAction, "j13"),
		replyCase("duplicate keys/name", `{"action":"createRoom","data":{"name":"ok","name":"  "},"requestId":"j14"}`, invalid, "j14"),
		replyCase("duplicate keys/roomId", `{"action":"sendMessage","data":{"roomId":"`+e.lobby.RoomID+`","content":"dup","roomId":"`+e.evilRoom.RoomID+`"},"requestId":"j15"}`, protocol.CodeNotInRoom, "j15"),
	}
}

// ---- every action's fields ---------------------------------------------------

// actionCase: alice sends action with data (raw JSON) and must get code.
func actionCase(name, action, data, code string) badCase {
	rid := "a-" + strings.NewReplacer(" ", "-", "/", "-").Replace(name)
	if len(rid) > 128 {
		rid = rid[:128]
	}
	body := fmt.Sprintf(`{"action":%q,"data":%s,"requestId":%q}`, action, data, rid)
	return replyCase(action+"/"+name, body, code, rid)
}

func actionCases(e *badEnv) []badCase {
	const (
		invalid  = protocol.CodeInvalidRequest
		notFound = protocol.CodeRoomNotFound
		notIn    = protocol.CodeNotInRoom
		required = protocol.CodeRoomRequired
		noMsg    = protocol.CodeMessageNotFound
	)
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	room := func(id string) string { return `{"roomId":` + q(id) + `}` }
	big := strings.Repeat("x", 4097)
	members := `[` + strings.TrimSuffix(strings.Repeat(`"u",`, 501), ",") + `]`
	lobby, evil := e.lobby.RoomID, e.evilRoom.RoomID
	return []badCase{
		actionCase("name missing", "createRoom", `{}`, invalid),
		actionCase("name a number", "createRoom", `{"name":42}`, invalid),
		actionCase("name blank", "createRoom", `{"name":" \t\n "}`, invalid),
		actionCase("name of 101 characters", "createRoom", `{"name":`+q(strings.Repeat("é", 101))+`}`, invalid),
		actionCase("description of 501 characters", "createRoom", `{"name":"x","description":`+q(strings.Repeat("d", 501))+`}`, invalid),
		actionCase("name with a NUL", "createRoom", `{"name":"lob\u0000by"}`, invalid),
		actionCase("name with ESC", "createRoom", `{"name":"\u001b[31mred"}`, invalid),
		actionCase("name with a newline", "createRoom", `{"name":"two\nlines"}`, invalid),
		actionCase("name with a bidi override", "createRoom", `{"name":"\u202egnp.exe"}`, invalid),
		actionCase("name with a line separator", "createRoom", `{"name":"a\u2028b"}`, invalid),
		actionCase("name of zero-width spaces only", "createRoom", `{"name":"\u200b\u200b"}`, invalid),
		actionCase("name of 99 combining marks", "createRoom", `{"name":"a`+strings.Repeat(`\u0301`, 99)+`"}`, invalid),
		actionCase("description with a bidi override", "createRoom", `{"name":"x","description":"\u202eevil"}`, invalid),
		actionCase("description with ESC", "createRoom", `{"name":"x","description":"\u001b]0;title\u0007"}`, invalid),
		actionCase("member with a control character", "createRoom", `{"name":"x","isPrivate":true,"members":["bo\u0000b"]}`, invalid),
		actionCase("description an object", "createRoom", `{"name":"x","description":{}}`, invalid),
		actionCase("isPrivate a string", "createRoom", `{"name":"x","isPrivate":"yes"}`, invalid),
		actionCase("members a string", "createRoom", `{"name":"x","isPrivate":true,"members":"bob"}`, invalid),
		actionCase("members numbers", "createRoom", `{"name":"x","isPrivate":true,"members":[1,2]}`, invalid),
		actionCase("members of 501 users", "createRoom", `{"name":"x","isPrivate":true,"members":`+members+`}`, invalid),
		actionCase("member blank", "createRoom", `{"name":"x","isPrivate":true,"members":["bob","  "]}`, invalid),
		actionCase("member id of 129 bytes", "createRoom", `{"name":"x","isPrivate":true,"members":[`+q(strings.Repeat("m", 129))+`]}`, invalid),

		actionCase("limit 0", "listRooms", `{"limit":0}`, invalid),
		actionCase("limit 101", "listRooms", `{"limit":101}`, invalid),
		actionCase("limit negative", "listRooms", `{"limit":-1}`, invalid),
		actionCase("limit a string", "listRooms", `{"limit":"10"}`, invalid),
		actionCase("isPrivate a number", "listRooms", `{"isPrivate":1}`, invalid),
		actionCase("cursor a number", "listRooms", `{"cursor":5}`, invalid),
		actionCase("cursor forged", "listRooms", `{"cursor":"forged"}`, protocol.CodeInvalidCursor),
		actionCase("cursor empty", "listRooms", `{"cursor":""}`, protocol.CodeInvalidCursor),
		actionCase("cursor of another user's list", "listRooms", `{"cursor":`+q(e.bobRoomsCursor)+`}`, protocol.CodeInvalidCursor),
		actionCase("cursor of another filter", "listRooms", `{"cursor":`+q(e.roomsCursor)+`,"isPrivate":true}`, protocol.CodeInvalidCursor),
		actionCase("cursor of a room's history", "listRooms", `{"cursor":`+q(e.historyCursor)+`}`, protocol.CodeInvalidCursor),

		actionCase("roomId missing", "joinRoom", `{}`, invalid),
		actionCase("roomId padded with spaces", "joinRoom", room(" "+lobby+" "), notFound),
		actionCase("roomId a list", "joinRoom", `{"roomId":["x"]}`, invalid),
		actionCase("room unknown", "joinRoom", room("no-such-room"), notFound),
		actionCase("room of another tenant", "joinRoom", room(evil), notFound),
		actionCase("private room of another user", "joinRoom", room(e.private.RoomID), protocol.CodeForbidden),

		// A NUL in an id: SQLite stores it, PostgreSQL's text refuses it;
		// either way no such room or message exists.
		actionCase("roomId with a NUL", "joinRoom", `{"roomId":"lob\u0000by"}`, notFound),
		actionCase("roomId with a NUL", "leaveRoom", `{"roomId":"lob\u0000by"}`, notIn),
		actionCase("roomId with a NUL", "sendMessage", `{"roomId":"lob\u0000by","content":"x"}`, notIn),
		actionCase("replyToMessageId with a NUL", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","replyToMessageId":"m\u0000"}`, noMsg),
		actionCase("messageId with a NUL", "editMessage", `{"messageId":"m\u0000","content":"x"}`, noMsg),
		actionCase("messageId with a NUL", "deleteMessage", `{"messageId":"m\u0000"}`, noMsg),
		actionCase("roomId with a NUL", "getRoomHistory", `{"roomId":"lob\u0000by"}`, notFound),
		actionCase("roomId with a NUL", "getOnlineUsers", `{"roomId":"lob\u0000by"}`, notFound),
		actionCase("roomId with a NUL", "typingStart", `{"roomId":"lob\u0000by"}`, notIn),

		actionCase("room not joined", "leaveRoom", room(e.unjoined.RoomID), notIn),
		actionCase("room of another tenant", "leaveRoom", room(evil), notIn),
		actionCase("roomId omitted in two rooms", "leaveRoom", `{}`, required),
		actionCase("roomId a boolean", "leaveRoom", `{"roomId":true}`, invalid),

		actionCase("content missing", "sendMessage", room(lobby), invalid),
		actionCase("content blank", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"   "}`, invalid),
		actionCase("content a number", "sendMessage", `{"roomId":`+q(lobby)+`,"content":42}`, invalid),
		actionCase("content over 4 KB", "sendMessage", `{"roomId":`+q(lobby)+`,"content":`+q(big)+`}`, protocol.CodeContentTooLarge),
		actionCase("content of 100 KB", "sendMessage", `{"roomId":`+q(lobby)+`,"content":`+q(strings.Repeat("y", 100<<10))+`}`, protocol.CodeContentTooLarge),
		actionCase("messageType SYSTEM", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","messageType":"SYSTEM"}`, protocol.CodeForbidden),
		actionCase("messageType unknown", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","messageType":"HTML"}`, invalid),
		actionCase("messageType a number", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","messageType":1}`, invalid),
		actionCase("roomId omitted in two rooms", "sendMessage", `{"content":"x"}`, required),
		actionCase("room not joined", "sendMessage", `{"roomId":`+q(e.unjoined.RoomID)+`,"content":"x"}`, notIn),
		actionCase("room of another tenant", "sendMessage", `{"roomId":`+q(evil)+`,"content":"x"}`, notIn),
		actionCase("private room of another user", "sendMessage", `{"roomId":`+q(e.private.RoomID)+`,"content":"x"}`, notIn),
		actionCase("reply to an unknown message", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","replyToMessageId":"nope"}`, noMsg),
		actionCase("reply to another tenant's message", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","replyToMessageId":`+q(e.evilMsg.MessageID)+`}`, noMsg),
		actionCase("reply to a message of another room", "sendMessage", `{"roomId":`+q(lobby)+`,"content":"x","replyToMessageId":`+q(e.sideMsg.MessageID)+`}`, noMsg),

		actionCase("messageId missing", "editMessage", `{"content":"x"}`, invalid),
		actionCase("messageId a number", "editMessage", `{"messageId":1,"content":"x"}`, invalid),
		actionCase("someone else's message", "editMessage", `{"messageId":`+q(e.bobMsg.MessageID)+`,"content":"mine now"}`, protocol.CodeNotAuthor),
		actionCase("another tenant's message", "editMessage", `{"messageId":`+q(e.evilMsg.MessageID)+`,"content":"pwned"}`, noMsg),
		actionCase("deleted message", "editMessage", `{"messageId":`+q(e.deletedMsg.MessageID)+`,"content":"back"}`, protocol.CodeMessageDeleted),
		actionCase("content blank", "editMessage", `{"messageId":`+q(e.aliceMsg.MessageID)+`,"content":""}`, invalid),
		actionCase("content over 4 KB", "editMessage", `{"messageId":`+q(e.aliceMsg.MessageID)+`,"content":`+q(big)+`}`, protocol.CodeContentTooLarge),

		actionCase("messageId missing", "deleteMessage", `{}`, invalid),
		actionCase("someone else's message", "deleteMessage", `{"messageId":`+q(e.bobMsg.MessageID)+`}`, protocol.CodeNotAuthor),
		actionCase("another tenant's message", "deleteMessage", `{"messageId":`+q(e.evilMsg.MessageID)+`}`, noMsg),
		actionCase("deleted message", "deleteMessage", `{"messageId":`+q(e.deletedMsg.MessageID)+`}`, protocol.CodeMessageDeleted),

		actionCase("roomId missing", "getRoomHistory", `{}`, invalid),
		actionCase("room of another tenant", "getRoomHistory", room(evil), notFound),
		actionCase("private room of another user", "getRoomHistory", room(e.private.RoomID), protocol.CodeForbidden),
		actionCase("limit 1000", "getRoomHistory", `{"roomId":`+q(lobby)+`,"limit":1000}`, invalid),
		actionCase("limit a float", "getRoomHistory", `{"roomId":`+q(lobby)+`,"limit":2.5}`, invalid),
		actionCase("cursor garbage", "getRoomHistory", `{"roomId":`+q(lobby)+`,"cursor":"!!"}`, protocol.CodeInvalidCursor),
		actionCase("cursor empty", "getRoomHistory", `{"roomId":`+q(lobby)+`,"cursor":""}`, protocol.CodeInvalidCursor),
		actionCase("cursor of another room", "getRoomHistory", `{"roomId":`+q(e.side.RoomID)+`,"cursor":`+q(e.historyCursor)+`}`, protocol.CodeInvalidCursor),
		actionCase("cursor of another tenant's room", "getRoomHistory", `{"roomId":`+q(lobby)+`,"cursor":`+q(e.eveCursor)+`}`, protocol.CodeInvalidCursor),
		actionCase("cursor of a room list", "getRoomHistory", `{"roomId":`+q(lobby)+`,"cursor":`+q(e.roomsCursor)+`}`, protocol.CodeInvalidCursor),
		actionCase("cursor with a byte changed", "getRoomHistory", `{"roomId":`+q(lobby)+`,"cursor":`+q(flipLast(e.historyCursor))+`}`, protocol.CodeInvalidCursor),

		actionCase("room of another tenant", "typingStart", room(evil), notIn),
		actionCase("roomId omitted in two rooms", "typingStart", `{}`, required),
		actionCase("room not joined", "typingStop", room(e.unjoined.RoomID), notIn),

		actionCase("room of another tenant", "getOnlineUsers", room(evil), notFound),
		actionCase("private room of another user", "getOnlineUsers", room(e.private.RoomID), protocol.CodeForbidden),
		actionCase("roomId a number", "getOnlineUsers", `{"roomId":3}`, invalid),
		actionCase("roomId blank", "getOnlineUsers", `{"roomId":""}`, invalid),

		actionCase("data a number", "heartbeat", `5`, invalid),
		actionCase("data a list", "ping", `[1]`, invalid),
		actionCase("isPrivate a huge number", "createRoom", `{"name":"x","isPrivate":1e400}`, invalid),
		actionCase("roomId of 10 KB", "joinRoom", room(strings.Repeat("r", 10<<10)), notFound),
		actionCase("messageId of 10 KB", "editMessage", `{"messageId":`+q(strings.Repeat("m", 10<<10))+`,"content":"x"}`, noMsg),
		{"joinRoom/one room more than the quota", func(t *testing.T, e *badEnv) {
			// carol (tenant crowd, outside the snapshot) is in 100 rooms.
			e.carol.Fails("joinRoom", map[string]any{"roomId": e.crowdExtra}, protocol.CodeTooManyRooms)
			ms, err := e.stack.Store.RoomMembers(t.Context(), e.crowd, e.crowdExtra)
			if err != nil || ms.Len() != 0 {
				t.Fatalf("members of the room refused: %v %v", ms.Slice(), err)
			}
			if ms, err := e.stack.Store.ConnectionRooms(t.Context(), e.carolConn); err != nil || len(ms) != chat.DefaultMaxRoomsPerConnection {
				t.Fatalf("carol is in %d rooms (%v), want %d", len(ms), err, chat.DefaultMaxRoomsPerConnection)
			}
		}},
		{"typingStart/flood", func(t *testing.T, e *badEnv) {
			// The store keeps the connection's last typing event, which is
			// not in the snapshot; the first of the two may be limited too
			// (the clock stands still).
			first := e.alice.Do("typingStart", map[string]any{"roomId": e.lobby.RoomID})
			if first.Type != protocol.ReplySuccess && first.Code != protocol.CodeRateLimited {
				t.Fatalf("first typingStart: %s", first.Raw)
			}
			e.alice.Fails("typingStart", map[string]any{"roomId": e.lobby.RoomID}, protocol.CodeRateLimited)
		}},
	}
}

// ---- JWTs ---------------------------------------------------------------------

// tokenCase: a WebSocket upgrade with the token must be refused with 401.
func tokenCase(name string, token func(e *badEnv) string) badCase {
	return badCase{"jwt/" + name, func(t *testing.T, e *badEnv) {
		if got := e.dialStatus(t, token(e)); got != http.StatusUnauthorized {
			t.Fatalf("HTTP %d, want 401", got)
		}
	}}
}

func jwtCases(e *badEnv) []badCase {
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&e.rsa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	with := func(change func(jwt.MapClaims)) func(e *badEnv) string {
		return func(e *badEnv) string {
			c := e.validClaims()
			change(c)
			return e.token(jwt.SigningMethodRS256, e.rsa, badKID, c)
		}
	}
	valid := func(e *badEnv) string { return e.token(jwt.SigningMethodRS256, e.rsa, badKID, e.validClaims()) }
	return []badCase{
		tokenCase("empty", func(*badEnv) string { return "" }),
		tokenCase("garbage", func(*badEnv) string { return "not-a-jwt" }),
		tokenCase("two segments", func(*badEnv) string { return "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9" }),
		tokenCase("alg none, unsigned", func(e *badEnv) string {
			return rawToken(map[string]any{"alg": "none", "typ": "JWT"}, e.validClaims(), "")
		}),
		tokenCase("alg none, with a signature", func(e *badEnv) string {
			return rawToken(map[string]any{"alg": "none"}, e.validClaims(), "c2ln")
		}),
		tokenCase("alg NONE in capitals", func(e *badEnv) string {
			return rawToken(map[string]any{"alg": "NONE"}, e.validClaims(), "")
		}),
		tokenCase("HS256 signed with the RSA public key (PEM)", func(e *badEnv) string {
			return e.token(jwt.SigningMethodHS256, pubPEM, badKID, e.validClaims())
		}),
		tokenCase("HS256 signed with the RSA public key (DER)", func(e *badEnv) string {
			return e.token(jwt.SigningMethodHS256, pubDER, "", e.validClaims())
		}),
		tokenCase("HS256 signed with a guessed secret", func(e *badEnv) string {
			return e.token(jwt.SigningMethodHS256, []byte("secretsecretsecretsecretsecret!!"), "", e.validClaims())
		}),
		tokenCase("RS256 from another key with the right kid", func(e *badEnv) string {
			return e.token(jwt.SigningMethodRS256, otherRSA, badKID, e.validClaims())
		}),
		tokenCase("RS256 with an unknown kid", func(e *badEnv) string {
			return e.token(jwt.SigningMethodRS256, otherRSA, "someone-else", e.validClaims())
		}),
		tokenCase("kid with a path", func(e *badEnv) string {
			return e.token(jwt.SigningMethodRS256, otherRSA, "../../"+badKID, e.validClaims())
		}),
		tokenCase("jku header to the signer's own key set", func(e *badEnv) string {
			// The verifier must use only its configured JWK Set.
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, e.validClaims())
			tok.Header["kid"], tok.Header["jku"] = badKID, e.attackerJWKS(otherRSA)
			s, _ := tok.SignedString(otherRSA)
			return s
		}),
		tokenCase("embedded jwk header with the signer's key", func(e *badEnv) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, e.validClaims())
			tok.Header["kid"], tok.Header["jwk"] = badKID, rsaJWK(badKID, &otherRSA.PublicKey)
			s, _ := tok.SignedString(otherRSA)
			return s
		}),
		tokenCase("RS256 without kid", func(e *badEnv) string {
			return e.token(jwt.SigningMethodRS256, e.rsa, "", e.validClaims())
		}),
		tokenCase("ES256 with the RSA key's kid", func(e *badEnv) string {
			return e.token(jwt.SigningMethodES256, ec, badKID, e.validClaims())
		}),
		tokenCase("PS256 with the right key", func(e *badEnv) string {
			return e.token(jwt.SigningMethodPS256, e.rsa, badKID, e.validClaims())
		}),
		tokenCase("tampered signature", func(e *badEnv) string {
			tok := valid(e)
			last := tok[len(tok)-2]
			flip := byte('A')
			if last == 'A' {
				flip = 'B'
			}
			return tok[:len(tok)-2] + string(flip) + tok[len(tok)-1:]
		}),
		tokenCase("tampered claims, original signature", func(e *badEnv) string {
			parts := strings.Split(valid(e), ".")
			c := e.validClaims()
			c["sub"], c["tenantId"] = "eve", e.evil
			return rawToken(map[string]any{"alg": "RS256", "typ": "JWT", "kid": badKID}, c, parts[2])
		}),
		tokenCase("signature stripped", func(e *badEnv) string {
			tok := valid(e)
			return tok[:strings.LastIndex(tok, ".")+1]
		}),
		tokenCase("expired", with(func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-time.Hour).Unix() })),
		tokenCase("not valid yet", with(func(c jwt.MapClaims) { c["nbf"] = e.clock.Now().Add(time.Hour).Unix() })),
		tokenCase("issued in the future", with(func(c jwt.MapClaims) { c["iat"] = e.clock.Now().Add(time.Hour).Unix() })),
		tokenCase("exp missing", with(func(c jwt.MapClaims) { delete(c, "exp") })),
		tokenCase("exp a string", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })),
		tokenCase("nbf a string", with(func(c jwt.MapClaims) { c["nbf"] = "now" })),
		tokenCase("iat an object", with(func(c jwt.MapClaims) { c["iat"] = map[string]any{"t": 1} })),
		tokenCase("audience a number", with(func(c jwt.MapClaims) { c["aud"] = 42 })),
		tokenCase("wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		tokenCase("issuer missing", with(func(c jwt.MapClaims) { delete(c, "iss") })),
		tokenCase("wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "someone-else" })),
		tokenCase("audience missing", with(func(c jwt.MapClaims) { delete(c, "aud") })),
		tokenCase("sub missing", with(func(c jwt.MapClaims) { delete(c, "sub") })),
		tokenCase("sub empty", with(func(c jwt.MapClaims) { c["sub"] = "" })),
		tokenCase("sub a number", with(func(c jwt.MapClaims) { c["sub"] = 42 })),
		tokenCase("username with a NUL", with(func(c jwt.MapClaims) { c["username"] = "ali\x00ce" })),
		tokenCase("username with a bidi override", with(func(c jwt.MapClaims) { c["username"] = "\u202egnp.exe" })),
		tokenCase("username of zero-width spaces only", with(func(c jwt.MapClaims) { c["username"] = "\u200b\u200b" })),
		tokenCase("username with a line separator", with(func(c jwt.MapClaims) { c["username"] = "a\u2028b" })),
		tokenCase("tenant with a newline", with(func(c jwt.MapClaims) { c["tenantId"] = "acme\nevil" })),
		tokenCase("tenant of 129 bytes", with(func(c jwt.MapClaims) { c["tenantId"] = strings.Repeat("t", 129) })),
		tokenCase("tenant a list", with(func(c jwt.MapClaims) { c["tenantId"] = []string{e.acme} })),
		tokenCase("crit header", func(e *badEnv) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, e.validClaims())
			tok.Header["kid"], tok.Header["crit"] = badKID, []string{"exp"}
			s, _ := tok.SignedString(e.rsa)
			return s
		}),
		tokenCase("token over 16 KB", with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("p", 12<<10) })),
	}
}

// ---- the management API -------------------------------------------------------

// mgmtCase: a request to the dev stack's management API (loopback, no
// credentials configured) must get status and the AWS error type.
func mgmtCase(name, method, id string, body io.Reader, header http.Header, status int, errType string) badCase {
	return badCase{"management/" + name, func(t *testing.T, e *badEnv) {
		if id == "$eve" {
			id = e.eveConn
		}
		req, err := http.NewRequest(method, "http://"+e.stack.Addr()+"/"+"dev/@connections/"+id, body)
		if err != nil {
			t.Fatal(err)
		}
		if body == nil {
			req.Body = nil
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if host := header.Get("Host"); host != "" {
			req.Host = host
		}
		checkAWSError(t, req, status, errType)
	}}
}

func checkAWSError(t *testing.T, req *http.Request, status int, errType string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Header.Get("x-amzn-ErrorType") != errType {
		t.Fatalf("HTTP %d %s, want %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), status, errType)
	}
}

// chunked hides a body's length, so that the server must count it.
type chunked struct{ io.Reader }

// signedCase: a request to the management API of the gateway that
// requires SigV4 must be refused with 403, and deliver nothing.
func signedCase(name string, req func(t *testing.T, e *badEnv) *http.Request) badCase {
	return badCase{"management signed/" + name, func(t *testing.T, e *badEnv) {
		checkAWSError(t, req(t, e), http.StatusForbidden, "ForbiddenException")
		e.signedNothingDelivered(t)
	}}
}

func managementCases(e *badEnv) []badCase {
	const (
		bad      = http.StatusBadRequest
		badType  = "BadRequestException"
		gone     = "GoneException"
		tooLarge = "PayloadTooLargeException"
		forbid   = "ForbiddenException"
	)
	unknown := "AAAAAAAAAAAAAAA="
	over := strings.Repeat("z", 128<<10+1)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	sign := func(method, id, body, key, secret, service string, at time.Time) func(*testing.T, *badEnv) *http.Request {
		return func(t *testing.T, e *badEnv) *http.Request {
			if id == "$target" {
				id = e.signed.id
			}
			return e.signedRequest(t, method, id, body, key, secret, service, at)
		}
	}
	return []badCase{
		mgmtCase("id with a space", http.MethodPost, "bad%20id%20here==", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("id too long", http.MethodPost, strings.Repeat("A", 40)+"=", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("id too short", http.MethodPost, "AAAA=", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("id with a path", http.MethodPost, "AAAAAAAAAAAAAAA=/../x", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("id after a double slash", http.MethodPost, "/AAAAAAAAAAAAAAA=", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("id empty", http.MethodPost, "", strings.NewReader("x"), nil, bad, badType),
		mgmtCase("unknown connection", http.MethodPost, unknown, strings.NewReader("x"), nil, http.StatusGone, gone),
		mgmtCase("GET unknown connection", http.MethodGet, unknown, nil, nil, http.StatusGone, gone),
		mgmtCase("DELETE unknown connection", http.MethodDelete, unknown, nil, nil, http.StatusGone, gone),
		mgmtCase("body over 128 KB, declared", http.MethodPost, "$eve", strings.NewReader(over), nil, http.StatusRequestEntityTooLarge, tooLarge),
		mgmtCase("body over 128 KB, chunked", http.MethodPost, "$eve", chunked{strings.NewReader(over)}, nil, http.StatusRequestEntityTooLarge, tooLarge),
		mgmtCase("PUT", http.MethodPut, "$eve", strings.NewReader("x"), nil, http.StatusForbidden, forbid),
		mgmtCase("OPTIONS", http.MethodOptions, "$eve", nil, nil, http.StatusForbidden, forbid),
		mgmtCase("PATCH", http.MethodPatch, "$eve", strings.NewReader("x"), nil, http.StatusForbidden, forbid),
		mgmtCase("X-Forwarded-For", http.MethodPost, "$eve", strings.NewReader("x"), h("X-Forwarded-For", "203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("Forwarded", http.MethodPost, "$eve", strings.NewReader("x"), h("Forwarded", "for=203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("X-Real-IP", http.MethodPost, "$eve", strings.NewReader("x"), h("X-Real-IP", "203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("cross-origin POST", http.MethodPost, "$eve", strings.NewReader("x"), h("Origin", "http://evil.example"), http.StatusForbidden, forbid),
		mgmtCase("cross-origin text/plain POST", http.MethodPost, "$eve", strings.NewReader("x"), h("Origin", "https://evil.example", "Content-Type", "text/plain"), http.StatusForbidden, forbid),
		mgmtCase("Origin null", http.MethodPost, "$eve", strings.NewReader("x"), h("Origin", "null"), http.StatusForbidden, forbid),
		mgmtCase("foreign Host (DNS rebinding)", http.MethodPost, "$eve", strings.NewReader("x"), h("Host", "rebind.evil.example"), http.StatusForbidden, forbid),
		mgmtCase("foreign Host on DELETE", http.MethodDelete, "$eve", nil, h("Host", "evil.example:80"), http.StatusForbidden, forbid),
		mgmtCase("X-Client-IP", http.MethodPost, "$eve", strings.NewReader("x"), h("X-Client-IP", "203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("True-Client-IP", http.MethodPost, "$eve", strings.NewReader("x"), h("True-Client-IP", "203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("CF-Connecting-IP", http.MethodPost, "$eve", strings.NewReader("x"), h("CF-Connecting-IP", "203.0.113.9"), http.StatusForbidden, forbid),
		mgmtCase("Via", http.MethodPost, "$eve", strings.NewReader("x"), h("Via", "1.1 proxy"), http.StatusForbidden, forbid),
		{"metrics/foreign Host", func(t *testing.T, e *badEnv) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+e.stack.Addr()+"/metrics", nil)
			req.Host = "rebind.evil.example"
			checkAWSError(t, req, http.StatusForbidden, forbid)
		}},
		{"metrics/cross-origin", func(t *testing.T, e *badEnv) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+e.stack.Addr()+"/metrics", nil)
			req.Header.Set("Origin", "http://evil.example")
			checkAWSError(t, req, http.StatusForbidden, forbid)
		}},
		mgmtCase("X-Forwarded-Host on DELETE", http.MethodDelete, "$eve", nil, h("X-Forwarded-Host", "evil.example"), http.StatusForbidden, forbid),

		signedCase("unsigned", func(t *testing.T, e *badEnv) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, e.signed.url+"/@connections/"+e.signed.id, strings.NewReader("unsigned"))
			return req
		}),
		signedCase("unknown access key", sign(http.MethodPost, "$target", "x", "AKIDSTRANGER", mgmtSecret, "execute-api", time.Now())),
		signedCase("wrong secret", sign(http.MethodPost, "$target", "x", mgmtKeyID, "guess", "execute-api", time.Now())),
		signedCase("wrong service", sign(http.MethodPost, "$target", "x", mgmtKeyID, mgmtSecret, "s3", time.Now())),
		signedCase("signed 20 minutes ago", sign(http.MethodPost, "$target", "x", mgmtKeyID, mgmtSecret, "execute-api", time.Now().Add(-20*time.Minute))),
		signedCase("signed 20 minutes ahead", sign(http.MethodPost, "$target", "x", mgmtKeyID, mgmtSecret, "execute-api", time.Now().Add(20*time.Minute))),
		signedCase("body replaced after signing", func(t *testing.T, e *badEnv) *http.Request {
			req := e.signedRequest(t, http.MethodPost, e.signed.id, "signed body", mgmtKeyID, mgmtSecret, "execute-api", time.Now())
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader("other body!")), int64(len("other body!"))
			return req
		}),
		signedCase("signature for another connection", func(t *testing.T, e *badEnv) *http.Request {
			req := e.signedRequest(t, http.MethodPost, "AAAAAAAAAAAAAAA=", "x", mgmtKeyID, mgmtSecret, "execute-api", time.Now())
			req.URL.Path = strings.Replace(req.URL.Path, "AAAAAAAAAAAAAAA=", e.signed.id, 1)
			return req
		}),
		signedCase("signature of a GET used for a POST", func(t *testing.T, e *badEnv) *http.Request {
			req := e.signedRequest(t, http.MethodGet, e.signed.id, "", mgmtKeyID, mgmtSecret, "execute-api", time.Now())
			req.Method = http.MethodPost
			return req
		}),
		signedCase("correctly signed, from another origin", func(t *testing.T, e *badEnv) *http.Request {
			req := e.signedRequest(t, http.MethodPost, e.signed.id, "x", mgmtKeyID, mgmtSecret, "execute-api", time.Now())
			req.Header.Set("Origin", "http://evil.example") // not a signed header: the signature stays valid
			return req
		}),
		signedCase("garbled Authorization header", func(t *testing.T, e *badEnv) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, e.signed.url+"/@connections/"+e.signed.id, strings.NewReader("x"))
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=zz")
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			return req
		}),
	}
}

// ---- known defects ------------------------------------------------------------
