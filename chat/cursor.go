package chat

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"

	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
)

// The cursors clients see wrap the store's: base64url of a tag and the
// store's cursor, the tag an HMAC-SHA256 (keyed by Config.CursorKey,
// empty by default) of the cursor's scope and the store's cursor. The
// scope is the listing and what it lists: the tenant and room of a
// history, the tenant, user and filter of a room list. A cursor used on
// another room, tenant, user or filter, altered, made up or empty fails
// its tag and is refused with INVALID_CURSOR before the store sees it, so
// it reveals nothing; the check works the same on every store and every
// instance of a deployment.
const (
	cursorTagLen = 16
	// maxCursorLen bounds the cursors accepted (the store's are far
	// shorter), so that a made-up one costs little.
	maxCursorLen = 512
	cursorDomain = "switchboard chat cursor v1\x00"
)

// historyScope is the scope of a room's history cursors.
func historyScope(tenantID, roomID string) string {
	return "history\x00" + tenantID + "\x00" + roomID
}

// roomsScope is the scope of a user's room list cursors with a filter.
func roomsScope(tenantID, userID string, filter store.RoomFilter) string {
	return "rooms\x00" + tenantID + "\x00" + userID + "\x00" + strconv.Itoa(int(filter))
}

// CursorKey derives Config.CursorKey from a deployment's secret (the
// HS256 secret of its tokens), so that a deployment that has one signs its
// cursors without another setting; the derived key reveals nothing of the
// secret.
func CursorKey(secret []byte) []byte {
	if len(secret) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(cursorDomain + "key"))
	return m.Sum(nil)
}

func (s *Service) cursorTag(scope, inner string) []byte {
	m := hmac.New(sha256.New, s.cfg.CursorKey)
	m.Write([]byte(cursorDomain))
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(inner))
	return m.Sum(nil)[:cursorTagLen]
}

// sealCursor wraps the store's cursor inner for scope; "" (no more pages)
// stays "".
func (s *Service) sealCursor(scope, inner string) string {
	if inner == "" {
		return ""
	}
	b := append(s.cursorTag(scope, inner), inner...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openCursor returns the store's cursor in c, a cursor sealed for scope:
// "" for none (nil: the first page), INVALID_CURSOR for anything else.
func (s *Service) openCursor(scope string, c *string) (string, *apiError) {
	if c == nil {
		return "", nil
	}
	bad := errorf(protocol.CodeInvalidCursor, "data.cursor is not a cursor of this listing (pass back the cursor of its previous page unchanged, or none for the first page)")
	if len(*c) > maxCursorLen {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(*c)
	if err != nil || len(b) <= cursorTagLen {
		return "", bad
	}
	tag, inner := b[:cursorTagLen], string(b[cursorTagLen:])
	if !hmac.Equal(tag, s.cursorTag(scope, inner)) {
		return "", bad
	}
	return inner, nil
}
