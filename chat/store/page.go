package store

import (
	"math"
	"strconv"
)

// Listing limits of every store: a Page.Limit of zero or less means
// DefaultPageLimit; more than MaxPageLimit means MaxPageLimit.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Size is the number of items p asks for, within the listing limits.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// The cursor kinds of the listings, one format on every store.
const (
	roomsCursor    = "rooms"    // ListRooms: the last room's createdAt (ms) and id
	messagesCursor = "messages" // ListMessages: the last message's id
)

// RoomsAfter is where a ListRooms page of cursor starts, newest first:
// after the room created at atMs with id roomID; the first page (cursor
// "") starts after (MaxInt64, ""), that is before everything.
func RoomsAfter(cursor string) (atMs int64, roomID string, err error) {
	if cursor == "" {
		return math.MaxInt64, "", nil
	}
	parts, err := DecodeCursor(cursor, roomsCursor, 2)
	if err != nil {
		return 0, "", err
	}
	at, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || parts[0] != strconv.FormatInt(at, 10) {
		return 0, "", ErrCursor
	}
	return at, parts[1], nil
}

// RoomsCursor is the cursor of the ListRooms page after r.
func RoomsCursor(r Room) string {
	return EncodeCursor(roomsCursor, strconv.FormatInt(r.CreatedAt.UnixMilli(), 10), r.RoomID)
}

// MessagesAfter is the id of the message a ListMessages page of cursor
// starts after (newest first); "" for the first page.
func MessagesAfter(cursor string) (messageID string, err error) {
	if cursor == "" {
		return "", nil
	}
	parts, err := DecodeCursor(cursor, messagesCursor, 1)
	if err != nil {
		return "", err
	}
	if parts[0] == "" {
		return "", ErrCursor
	}
	return parts[0], nil
}

// MessagesCursor is the cursor of the ListMessages page after m.
func MessagesCursor(m Message) string { return EncodeCursor(messagesCursor, m.MessageID) }

// NextPage cuts items, read with a limit of limit+1, to a page of limit
// and returns the cursor of the next one ("" when items was the last).
func NextPage[T any](items []T, limit int, cursorOf func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursorOf(items[limit-1])
}
