package protocol

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The package depends on the standard library only, so that any program
// (the SDK, the bench) may speak the protocol without the server.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/switchboard-ws/switchboard/chat/protocol" {
			t.Errorf("the protocol package imports %s", dep)
		}
	}
}

// Messages and rooms go on the wire with their times in milliseconds, UTC,
// and come back as the same instants.
func TestTimesOnTheWire(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 14, 0, 0, 100_000_000, time.FixedZone("CEST", 2*3600))
	m := Message{MessageID: "m", RoomID: "r", UserID: "u", Username: "U", Content: "hi", MessageType: MessageText, Timestamp: at}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messageId":"m","roomId":"r","userId":"u","username":"U","content":"hi","messageType":"TEXT","timestamp":"2025-06-01T12:00:00.100Z"}`
	if string(b) != want {
		t.Errorf("message on the wire:\n%s\nwant\n%s", b, want)
	}
	m.EditedAt, m.Edited = at.Add(time.Second), true
	b, _ = json.Marshal(m)
	var back Message
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Timestamp.Equal(at) || !back.EditedAt.Equal(m.EditedAt) || !back.Edited {
		t.Errorf("message round trip: %+v from %s", back, b)
	}
	r := Room{RoomID: "r", Name: "n", CreatedBy: "u", CreatedAt: at}
	b, _ = json.Marshal(r)
	if want := `{"roomId":"r","name":"n","createdBy":"u","createdAt":"2025-06-01T12:00:00.100Z","isPrivate":false}`; string(b) != want {
		t.Errorf("room on the wire:\n%s\nwant\n%s", b, want)
	}
}

// Pages carry their last page's cursor as null, and no items as [], and
// decode back with Cursor "".
func TestPagesOnTheWire(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(RoomPage{})
	if want := `{"rooms":[],"cursor":null}`; string(b) != want {
		t.Errorf("last room page: %s, want %s", b, want)
	}
	b, _ = json.Marshal(HistoryPage{RoomID: "r", Cursor: "c1"})
	if want := `{"roomId":"r","messages":[],"cursor":"c1"}`; string(b) != want {
		t.Errorf("history page: %s, want %s", b, want)
	}
	var p RoomPage
	if err := json.Unmarshal([]byte(`{"rooms":[],"cursor":null}`), &p); err != nil || p.Cursor != "" {
		t.Errorf("decoding the last page: %+v, %v", p, err)
	}
}

// Every list holds distinct names.
func TestListsDistinct(t *testing.T) {
	t.Parallel()
	for name, l := range map[string][]string{"Actions": Actions, "Codes": Codes, "Broadcasts": Broadcasts} {
		seen := map[string]bool{}
		for _, v := range l {
			if seen[v] {
				t.Errorf("%s lists %q twice", name, v)
			}
			seen[v] = true
		}
	}
}

// What says whether lists are live: announced always in the replies (false
// included), no users as [], and on a broadcast only when false.
func TestAnnouncedOnTheWire(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		want string
	}{
		{OnlineUsersReply{}, `{"users":[],"total":0,"announced":false}`},
		{OnlineUsersReply{Users: []OnlineUser{{UserID: "u", Username: "U", Connections: 2}}, Total: 3, RoomID: "r", Announced: true},
			`{"users":[{"userId":"u","username":"U","connections":2}],"total":3,"roomId":"r","announced":true}`},
		{Broadcast{Type: BroadcastTyping, RoomID: "r", Data: 1, Timestamp: "t"}, `{"type":"typing","roomId":"r","data":1,"timestamp":"t"}`},
		{Broadcast{Type: BroadcastTyping, RoomID: "r", Data: 1, Announced: new(false), Timestamp: "t"},
			`{"type":"typing","roomId":"r","data":1,"announced":false,"timestamp":"t"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%+v on the wire:\n%s\nwant\n%s", c.v, b, c.want)
		}
	}
	var j JoinRoomReply
	if err := json.Unmarshal([]byte(`{"room":{"roomId":"r"},"alreadyJoined":true,"announced":true}`), &j); err != nil || j.Announced == nil || !*j.Announced || !j.AlreadyJoined || j.Room.RoomID != "r" {
		t.Errorf("joinRoom reply read as %+v (%v)", j, err)
	}
	// A join that counted nothing (the user was in already) says nothing.
	if b, err := json.Marshal(JoinRoomReply{Room: Room{RoomID: "r"}, AlreadyJoined: true}); err != nil || strings.Contains(string(b), "announced") {
		t.Errorf("a join reply without Announced on the wire: %s (%v), want no announced", b, err)
	}
}
