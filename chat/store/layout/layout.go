// Package layout is the one definition of the single-table DynamoDB
// layout of docs/store.md: attribute names, item types and the builders
// and parsers of partition and sort keys. The DynamoDB store
// (store/dynamo) writes its items with it, and store.ConnectionImage and
// store.MembershipImage build the stream images the embedded stores hand
// the cleanup handler with it, so that both spell every key alike.
//
// Tenant ids are escaped in keys: '%' and '#' are percent-encoded ("%25",
// "%23"), so that no two tenants' keys can meet however their ids are
// spelled. This is what the DynamoDB store has always written on AWS, so
// it is the contract: items already written stay readable. Tenant ids
// without those characters appear verbatim. Within a tenant, each key has
// at most one part of free text, at its end (or followed by a fixed
// suffix in an index of its own).
//
// The package depends on the standard library only.
package layout

import (
	"fmt"
	"strings"
)

// Attribute names.
const (
	AttrPK          = "PK"
	AttrSK          = "SK"
	AttrGSI1PK      = "GSI1PK"
	AttrGSI1SK      = "GSI1SK"
	AttrGSI2PK      = "GSI2PK"
	AttrGSI2SK      = "GSI2SK"
	AttrType        = "type"
	AttrTenant      = "tenantId"
	AttrConnection  = "connectionId"
	AttrUser        = "userId"
	AttrUsername    = "username"
	AttrRoom        = "roomId"
	AttrConnectedAt = "connectedAt" // milliseconds
	AttrJoinedAt    = "joinedAt"    // milliseconds
	// AttrExpiresAt is the TTL attribute: epoch seconds (rounded down; for
	// typing slots rounded up).
	AttrExpiresAt = "expiresAt"
	// AttrExpiresAtMs is the same instant in milliseconds: the DynamoDB
	// store's reads and conditions use it, so that an item expires at the
	// millisecond the store was given.
	AttrExpiresAtMs = "expiresAtMs"
	AttrSourceIP    = "sourceIp"
	AttrUserAgent   = "userAgent"
	AttrName        = "name"
	AttrDescription = "description"
	AttrCreatedBy   = "createdBy"
	AttrCreatedAt   = "createdAt" // milliseconds
	AttrIsPrivate   = "isPrivate"
	AttrMembers     = "members"
	AttrMessage     = "messageId"
	AttrContent     = "content"
	AttrMessageType = "messageType"
	AttrEditedAt    = "editedAt" // milliseconds; absent if never edited
	AttrDeleted     = "deleted"
	AttrReplyTo     = "replyToMessageId"
	AttrAt          = "at" // typing slot: milliseconds
	// AttrHeldBy is a HOLD item's string set of the connections by which
	// its user holds memberships in its room (absent when none).
	AttrHeldBy = "heldBy"
	// AttrJoins is a CONNECTION item's count of the joins of the
	// connection (absent before its first): each JoinRoom adds one in its
	// transaction, and TouchConnection's is conditioned on the count it
	// read, so that no join slips between its read of the memberships and
	// its write.
	AttrJoins = "joins"
	// AttrRooms is a CONNECTION item's string set of the rooms (their
	// CONNROOM sort keys) the connection joined and has not left (absent
	// when none): JoinRoom adds to it, with a condition on its size when
	// the connection's rooms are capped; LeaveRoom takes from it.
	AttrRooms = "rooms"
)

// Index names.
const (
	GSI1 = "GSI1"
	GSI2 = "GSI2"
)

// Item types: the "type" attribute. The cleanup handler acts on the TTL
// deletions of CONNECTION and MEMBERSHIP items and ignores the others.
const (
	TypeConnection = "CONNECTION"
	TypeUserConn   = "USERCONN"
	TypeTyping     = "TYPING"
	TypeMembership = "MEMBERSHIP"
	TypeConnRoom   = "CONNROOM"
	TypeRoom       = "ROOM"
	TypeAccess     = "ACCESS"
	TypeMessage    = "MESSAGE"
	// TypeHold is the item of a user's memberships in a room (store.Join),
	// in the room's partition: which connections hold the user there.
	TypeHold = "HOLD"
)

// Fixed sort keys and key prefixes.
const (
	SKMeta       = "META"
	SKTyping     = "TYPING"
	PrefixConn   = "CONN#"
	PrefixMember = "MEMBER#"
	PrefixRoom   = "ROOM#"
	PrefixAccess = "ACCESS#"
	PrefixHold   = "HOLD#"
	prefixTenant = "TENANT#"
)

// RoomOrderDigits is the number of digits of the milliseconds in room
// sort keys (RoomOrder).
const RoomOrderDigits = 13

var (
	escaper   = strings.NewReplacer("%", "%25", "#", "%23")
	unescaper = strings.NewReplacer("%25", "%", "%23", "#")
)

// EscapeTenant is a tenant id as keys hold it: '%' and '#'
// percent-encoded.
func EscapeTenant(t string) string {
	if !strings.ContainsAny(t, "%#") {
		return t
	}
	return escaper.Replace(t)
}

// UnescapeTenant reverses EscapeTenant. It fails on text EscapeTenant
// never writes: a '#', or a '%' not followed by "25" or "23".
func UnescapeTenant(s string) (string, error) {
	if strings.Contains(s, "#") {
		return "", fmt.Errorf("layout: escaped tenant id %q holds a '#'", s)
	}
	for i := strings.IndexByte(s, '%'); i >= 0; i = nextPercent(s, i) {
		if !strings.HasPrefix(s[i:], "%25") && !strings.HasPrefix(s[i:], "%23") {
			return "", fmt.Errorf("layout: escaped tenant id %q holds a '%%' that is not %%25 or %%23", s)
		}
	}
	return unescaper.Replace(s), nil
}

func nextPercent(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '%')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// ConnectionPK is the partition of a connection (its META item, typing
// slot and CONNROOM copies of its memberships).
func ConnectionPK(connection string) string { return PrefixConn + connection }

// UserPK is the partition of a user (USERCONN copies of its connections).
func UserPK(tenant, user string) string { return tenantPrefix(tenant) + "#USER#" + user }

// RoomPK is the partition of a room (its META item, ACCESS copies and
// memberships).
func RoomPK(tenant, room string) string { return tenantPrefix(tenant) + "#ROOM#" + room }

// MessagePK is the partition of a message.
func MessagePK(tenant, message string) string { return tenantPrefix(tenant) + "#MSG#" + message }

// TenantConnectionsPK is GSI1's partition of a tenant's connections.
func TenantConnectionsPK(tenant string) string { return tenantPrefix(tenant) + "#CONNS" }

// TenantRoomsPK is GSI1's partition of a tenant's public rooms.
func TenantRoomsPK(tenant string) string { return tenantPrefix(tenant) + "#ROOMS" }

// UserRoomsPK is GSI2's partition of a user's private rooms.
func UserRoomsPK(tenant, user string) string {
	return tenantPrefix(tenant) + "#USER#" + user + "#ROOMS"
}

// RoomMessagesPK is GSI1's partition of a room's messages.
func RoomMessagesPK(tenant, room string) string {
	return tenantPrefix(tenant) + "#ROOM#" + room + "#MSGS"
}

// MemberSK is the sort key of a membership in its room's partition.
func MemberSK(connection string) string { return PrefixMember + connection }

// ConnectionSK is the sort key of a USERCONN item and of a connection in
// GSI1.
func ConnectionSK(connection string) string { return PrefixConn + connection }

// HoldSK is the sort key of a user's HOLD item in a room's partition.
func HoldSK(user string) string { return PrefixHold + user }

// AccessSK is the sort key of a user's ACCESS copy of a private room.
func AccessSK(user string) string { return PrefixAccess + user }

// ConnRoomSK is the sort key of a membership's CONNROOM copy in its
// connection's partition.
func ConnRoomSK(tenant, room string) string { return PrefixRoom + EscapeTenant(tenant) + "#" + room }

// RoomOrder is the sort key of rooms in GSI1 (public) and GSI2 (access):
// creation time in milliseconds, zero-padded, then the room id, so that
// descending order is newest first, then room id descending.
func RoomOrder(createdAtMs int64, roomID string) string {
	return fmt.Sprintf("%0*d#%s", RoomOrderDigits, createdAtMs, roomID)
}

// ParseRoomPK is the tenant and room of a RoomPK.
func ParseRoomPK(pk string) (tenant, room string, err error) {
	rest, ok := strings.CutPrefix(pk, prefixTenant)
	if !ok {
		return "", "", fmt.Errorf("layout: room key %q lacks the TENANT# prefix", pk)
	}
	esc, room, ok := strings.Cut(rest, "#ROOM#")
	if !ok {
		return "", "", fmt.Errorf("layout: room key %q lacks #ROOM#", pk)
	}
	if tenant, err = UnescapeTenant(esc); err != nil {
		return "", "", fmt.Errorf("layout: room key %q: %w", pk, err)
	}
	return tenant, room, nil
}

// ParseConnRoomSK is the tenant and room of a ConnRoomSK.
func ParseConnRoomSK(sk string) (tenant, room string, err error) {
	rest, ok := strings.CutPrefix(sk, PrefixRoom)
	if !ok {
		return "", "", fmt.Errorf("layout: connection's room key %q lacks the ROOM# prefix", sk)
	}
	esc, room, ok := strings.Cut(rest, "#")
	if !ok {
		return "", "", fmt.Errorf("layout: connection's room key %q lacks a '#' after the tenant", sk)
	}
	if tenant, err = UnescapeTenant(esc); err != nil {
		return "", "", fmt.Errorf("layout: connection's room key %q: %w", sk, err)
	}
	return tenant, room, nil
}

func tenantPrefix(tenant string) string { return prefixTenant + EscapeTenant(tenant) }
