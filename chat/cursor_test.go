package chat

import (
	"testing"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// TestCursorSeal: a sealed cursor opens for its scope only; with a
// CursorKey only cursors sealed with that key open, so one made with the
// (public) empty key is refused; nil is the first page, "" is refused.
func TestCursorSeal(t *testing.T) {
	t.Parallel()
	plain := New(nil, nil, nil, Config{})
	keyed := New(nil, nil, nil, Config{CursorKey: []byte("a deployment's secret")})
	keyed2 := New(nil, nil, nil, Config{CursorKey: []byte("a deployment's secret")})
	inner := store.EncodeCursor("messages", "01JD0000000000000000000000")
	a, b := historyScope("acme", "room-a"), historyScope("acme", "room-b")
	open := func(s *Service, scope, c string) (string, bool) {
		got, e := s.openCursor(scope, &c)
		return got, e == nil
	}
	for _, s := range []*Service{plain, keyed} {
		c := s.sealCursor(a, inner)
		if got, ok := open(s, a, c); !ok || got != inner {
			t.Fatalf("a cursor does not open for its own scope: %q %v", got, ok)
		}
		if _, ok := open(s, b, c); ok {
			t.Fatal("a cursor opens for another room")
		}
		if _, ok := open(s, historyScope("other", "room-a"), c); ok {
			t.Fatal("a cursor opens for another tenant")
		}
		if _, ok := open(s, roomsScope("acme", "alice", store.RoomsAll), c); ok {
			t.Fatal("a history cursor opens for a room list")
		}
		if _, ok := open(s, a, ""); ok {
			t.Fatal(`"" opens`)
		}
		if got, e := s.openCursor(a, nil); e != nil || got != "" {
			t.Fatal("no cursor is not the first page")
		}
		if s.sealCursor(a, "") != "" {
			t.Fatal("the last page has a cursor")
		}
	}
	if _, ok := open(keyed, a, plain.sealCursor(a, inner)); ok {
		t.Fatal("a keyed deployment accepts a cursor made without its key")
	}
	if _, ok := open(keyed2, a, keyed.sealCursor(a, inner)); !ok {
		t.Fatal("another instance with the same key refuses a cursor")
	}
}
