package store

import (
	"errors"
	"math"
	"testing"
	"time"
)

// The listings' cursors, one format on every store: a page's cursor leads
// back to the position after its last item, and anything else made up is
// ErrCursor.
func TestPageCursors(t *testing.T) {
	r := Room{RoomID: "r1", CreatedAt: time.UnixMilli(1700000000123)}
	at, id, err := RoomsAfter(RoomsCursor(r))
	if err != nil || at != 1700000000123 || id != "r1" {
		t.Fatalf("RoomsAfter(RoomsCursor) = %d %q %v", at, id, err)
	}
	if at, id, err := RoomsAfter(""); err != nil || at != math.MaxInt64 || id != "" {
		t.Fatalf("first page: %d %q %v, want after (MaxInt64, \"\")", at, id, err)
	}
	for _, c := range []string{"%%%", EncodeCursor("rooms", "+5", "r"), EncodeCursor("rooms", "", "r"), EncodeCursor("rooms", "05", "r"), EncodeCursor("rooms", "5"), EncodeCursor("messages", "m")} {
		if _, _, err := RoomsAfter(c); !errors.Is(err, ErrCursor) {
			t.Errorf("RoomsAfter(%q): %v, want ErrCursor", c, err)
		}
	}
	if m, err := MessagesAfter(MessagesCursor(Message{MessageID: "m9"})); err != nil || m != "m9" {
		t.Fatalf("MessagesAfter(MessagesCursor) = %q %v", m, err)
	}
	if m, err := MessagesAfter(""); err != nil || m != "" {
		t.Fatalf("first page: %q %v", m, err)
	}
	for _, c := range []string{EncodeCursor("messages", ""), EncodeCursor("rooms", "1", "r"), "!"} {
		if _, err := MessagesAfter(c); !errors.Is(err, ErrCursor) {
			t.Errorf("MessagesAfter(%q): %v, want ErrCursor", c, err)
		}
	}
}

func TestNextPageAndSize(t *testing.T) {
	cur := func(n int) string { return string(rune('a' + n)) }
	if items, next := NextPage([]int{0, 1, 2}, 3, cur); len(items) != 3 || next != "" {
		t.Fatalf("last page: %v %q", items, next)
	}
	if items, next := NextPage([]int{0, 1, 2, 3}, 3, cur); len(items) != 3 || next != "c" {
		t.Fatalf("a page with more: %v %q, want 3 items and the cursor of the third", items, next)
	}
	for limit, want := range map[int]int{-1: DefaultPageLimit, 0: DefaultPageLimit, 7: 7, MaxPageLimit + 1: MaxPageLimit} {
		if got := (Page{Limit: limit}).Size(); got != want {
			t.Errorf("Page{Limit: %d}.Size() = %d, want %d", limit, got, want)
		}
	}
}
