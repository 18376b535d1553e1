package dynamo

import (
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/layout"
)

// Attribute names, index names, item types and keys: those of
// store/layout, the one definition of the single-table layout (which
// store.ConnectionImage and store.MembershipImage use as well).
const (
	attrPK          = layout.AttrPK
	attrSK          = layout.AttrSK
	attrGSI1PK      = layout.AttrGSI1PK
	attrGSI1SK      = layout.AttrGSI1SK
	attrGSI2PK      = layout.AttrGSI2PK
	attrGSI2SK      = layout.AttrGSI2SK
	attrType        = layout.AttrType
	attrTenant      = layout.AttrTenant
	attrConnection  = layout.AttrConnection
	attrUser        = layout.AttrUser
	attrUsername    = layout.AttrUsername
	attrRoom        = layout.AttrRoom
	attrConnectedAt = layout.AttrConnectedAt
	attrJoinedAt    = layout.AttrJoinedAt
	attrExpiresAt   = layout.AttrExpiresAt
	attrExpiresAtMs = layout.AttrExpiresAtMs
	attrSourceIP    = layout.AttrSourceIP
	attrUserAgent   = layout.AttrUserAgent
	attrName        = layout.AttrName
	attrDescription = layout.AttrDescription
	attrCreatedBy   = layout.AttrCreatedBy
	attrCreatedAt   = layout.AttrCreatedAt
	attrIsPrivate   = layout.AttrIsPrivate
	attrMembers     = layout.AttrMembers
	attrMessage     = layout.AttrMessage
	attrContent     = layout.AttrContent
	attrMessageType = layout.AttrMessageType
	attrEditedAt    = layout.AttrEditedAt
	attrDeleted     = layout.AttrDeleted
	attrReplyTo     = layout.AttrReplyTo
	attrAt          = layout.AttrAt
	attrHeldBy      = layout.AttrHeldBy
	attrJoins       = layout.AttrJoins
	attrRooms       = layout.AttrRooms
)

// Index names.
const (
	GSI1 = layout.GSI1
	GSI2 = layout.GSI2
)

// Item types (the "type" attribute). CONNECTION and MEMBERSHIP are
// store.TypeConnection and store.TypeMembership: the cleanup handler acts
// on their TTL deletions and ignores the others.
const (
	typeConnection = layout.TypeConnection
	typeUserConn   = layout.TypeUserConn
	typeTyping     = layout.TypeTyping
	typeMembership = layout.TypeMembership
	typeConnRoom   = layout.TypeConnRoom
	typeRoom       = layout.TypeRoom
	typeAccess     = layout.TypeAccess
	typeMessage    = layout.TypeMessage
	typeHold       = layout.TypeHold
)

// Keys (layout's; tenant ids escaped there).
func connPK(c string) string            { return layout.ConnectionPK(c) }
func userPK(t, u string) string         { return layout.UserPK(t, u) }
func roomPK(t, r string) string         { return layout.RoomPK(t, r) }
func messagePK(t, m string) string      { return layout.MessagePK(t, m) }
func tenantConnsPK(t string) string     { return layout.TenantConnectionsPK(t) }
func tenantRoomsPK(t string) string     { return layout.TenantRoomsPK(t) }
func userRoomsPK(t, u string) string    { return layout.UserRoomsPK(t, u) }
func roomMessagesPK(t, r string) string { return layout.RoomMessagesPK(t, r) }
func connRoomSK(t, r string) string     { return layout.ConnRoomSK(t, r) }
func holdSK(u string) string            { return layout.HoldSK(u) }

const (
	skMeta       = layout.SKMeta
	skTyping     = layout.SKTyping
	prefixConn   = layout.PrefixConn
	prefixMember = layout.PrefixMember
	prefixRoom   = layout.PrefixRoom
	prefixAccess = layout.PrefixAccess
)

// roomOrder is the sort key of rooms in GSI1 (public) and GSI2 (access).
func roomOrder(createdAtMs int64, roomID string) string { return layout.RoomOrder(createdAtMs, roomID) }

// validCreatedAt reports whether a room's creation time fits roomOrder
// (1970 to 2286).
func validCreatedAt(ms int64) bool { return ms >= 0 && ms < 1e13 }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

// Attribute values.
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func boolean(v bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: v}
}

func strList(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = str(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// ttlSeconds is the TTL attribute of an expiry: seconds, rounded down.
func ttlSeconds(t time.Time) int64 { return t.Unix() }

// ceilSeconds is ms in seconds, rounded up.
func ceilSeconds(ms int64) int64 {
	s := ms / 1000
	if ms%1000 > 0 {
		s++
	}
	return s
}

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

// item is a DynamoDB item.
type item map[string]types.AttributeValue

func (it item) str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) num(name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

func (it item) bool(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func (it item) strs(name string) []string {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			if s, ok := e.(*types.AttributeValueMemberS); ok {
				out = append(out, s.Value)
			}
		}
		return out
	case *types.AttributeValueMemberSS:
		return append([]string(nil), v.Value...)
	}
	return nil
}

func (it item) ms(name string) time.Time {
	n, _ := it.num(name)
	return fromMs(n)
}

// expiresMs is the item's expiry in milliseconds (from expiresAtMs, or
// from the TTL attribute if an item lacks it); ok is false for items that
// never expire.
func (it item) expiresMs() (int64, bool) {
	if v, ok := it.num(attrExpiresAtMs); ok {
		return v, true
	}
	if v, ok := it.num(attrExpiresAt); ok {
		return v * 1000, true
	}
	return 0, false
}

// live reports whether an ephemeral item has not expired at nowMs.
func (it item) live(nowMs int64) bool {
	exp, ok := it.expiresMs()
	return !ok || exp > nowMs
}

// connectionItem is the item of a connection; its copy under the user
// (USERCONN) is userConnItem.
func connectionItem(c store.Connection) item {
	it := item{
		attrPK:          str(connPK(c.ConnectionID)),
		attrSK:          str(skMeta),
		attrType:        str(typeConnection),
		attrGSI1PK:      str(tenantConnsPK(c.TenantID)),
		attrGSI1SK:      str(prefixConn + c.ConnectionID),
		attrConnection:  str(c.ConnectionID),
		attrTenant:      str(c.TenantID),
		attrUser:        str(c.UserID),
		attrUsername:    str(c.Username),
		attrConnectedAt: num(c.ConnectedAt.UnixMilli()),
		attrExpiresAt:   num(ttlSeconds(c.ExpiresAt)),
		attrExpiresAtMs: num(c.ExpiresAt.UnixMilli()),
		attrSourceIP:    str(c.SourceIP),
		attrUserAgent:   str(c.UserAgent),
	}
	return it
}

// userConnItem is the copy of a connection item in the user's partition,
// read by UserConnections with a consistent base-table Query.
func userConnItem(conn item) item {
	it := make(item, len(conn))
	for k, v := range conn {
		it[k] = v
	}
	delete(it, attrGSI1PK)
	delete(it, attrGSI1SK)
	delete(it, attrJoins)
	delete(it, attrRooms)
	it[attrPK] = str(userPK(conn.str(attrTenant), conn.str(attrUser)))
	it[attrSK] = str(prefixConn + conn.str(attrConnection))
	it[attrType] = str(typeUserConn)
	return it
}

func (it item) connection() store.Connection {
	exp, _ := it.expiresMs()
	return store.Connection{
		ConnectionID: it.str(attrConnection),
		TenantID:     it.str(attrTenant),
		UserID:       it.str(attrUser),
		Username:     it.str(attrUsername),
		ConnectedAt:  it.ms(attrConnectedAt),
		ExpiresAt:    fromMs(exp),
		SourceIP:     it.str(attrSourceIP),
		UserAgent:    it.str(attrUserAgent),
	}
}

// membershipItem is the item of a membership in the room's partition;
// connRoomItem its copy in the connection's partition.
func membershipItem(m store.Membership) item {
	return item{
		attrPK:          str(roomPK(m.TenantID, m.RoomID)),
		attrSK:          str(prefixMember + m.ConnectionID),
		attrType:        str(typeMembership),
		attrTenant:      str(m.TenantID),
		attrRoom:        str(m.RoomID),
		attrConnection:  str(m.ConnectionID),
		attrUser:        str(m.UserID),
		attrUsername:    str(m.Username),
		attrJoinedAt:    num(m.JoinedAt.UnixMilli()),
		attrExpiresAt:   num(ttlSeconds(m.ExpiresAt)),
		attrExpiresAtMs: num(m.ExpiresAt.UnixMilli()),
	}
}

func connRoomItem(m store.Membership) item {
	it := membershipItem(m)
	it[attrPK] = str(connPK(m.ConnectionID))
	it[attrSK] = str(connRoomSK(m.TenantID, m.RoomID))
	it[attrType] = str(typeConnRoom)
	return it
}

func (it item) membership() store.Membership {
	exp, _ := it.expiresMs()
	return store.Membership{
		TenantID:     it.str(attrTenant),
		RoomID:       it.str(attrRoom),
		ConnectionID: it.str(attrConnection),
		UserID:       it.str(attrUser),
		Username:     it.str(attrUsername),
		JoinedAt:     it.ms(attrJoinedAt),
		ExpiresAt:    fromMs(exp),
	}
}

// roomItem is the item of a room; public rooms are in GSI1 (the tenant's
// public rooms). accessItem is its copy for one member of a private room,
// in GSI2 (the user's private rooms).
func roomItem(r store.Room) item {
	members := r.Members
	if members == nil {
		members = []string{}
	}
	at := r.CreatedAt.UnixMilli()
	it := item{
		attrPK:          str(roomPK(r.TenantID, r.RoomID)),
		attrSK:          str(skMeta),
		attrType:        str(typeRoom),
		attrTenant:      str(r.TenantID),
		attrRoom:        str(r.RoomID),
		attrName:        str(r.Name),
		attrDescription: str(r.Description),
		attrCreatedBy:   str(r.CreatedBy),
		attrCreatedAt:   num(at),
		attrIsPrivate:   boolean(r.IsPrivate),
		attrMembers:     strList(members),
	}
	if !r.IsPrivate {
		it[attrGSI1PK] = str(tenantRoomsPK(r.TenantID))
		it[attrGSI1SK] = str(roomOrder(at, r.RoomID))
	}
	return it
}

func accessItem(room item, r store.Room, user string) item {
	it := make(item, len(room)+3)
	for k, v := range room {
		it[k] = v
	}
	it[attrSK] = str(prefixAccess + user)
	it[attrType] = str(typeAccess)
	it[attrUser] = str(user)
	it[attrGSI2PK] = str(userRoomsPK(r.TenantID, user))
	it[attrGSI2SK] = str(roomOrder(r.CreatedAt.UnixMilli(), r.RoomID))
	return it
}

func (it item) room() store.Room {
	r := store.Room{
		TenantID:    it.str(attrTenant),
		RoomID:      it.str(attrRoom),
		Name:        it.str(attrName),
		Description: it.str(attrDescription),
		CreatedBy:   it.str(attrCreatedBy),
		CreatedAt:   it.ms(attrCreatedAt),
		IsPrivate:   it.bool(attrIsPrivate),
		Members:     it.strs(attrMembers),
	}
	if len(r.Members) == 0 {
		r.Members = nil
	}
	return r
}

// messageItem is the item of a message, in GSI1 under its room.
func messageItem(m store.Message) item {
	it := item{
		attrPK:          str(messagePK(m.TenantID, m.MessageID)),
		attrSK:          str(skMeta),
		attrType:        str(typeMessage),
		attrGSI1PK:      str(roomMessagesPK(m.TenantID, m.RoomID)),
		attrGSI1SK:      str(m.MessageID),
		attrTenant:      str(m.TenantID),
		attrRoom:        str(m.RoomID),
		attrMessage:     str(m.MessageID),
		attrUser:        str(m.UserID),
		attrUsername:    str(m.Username),
		attrContent:     str(m.Content),
		attrMessageType: str(m.MessageType),
		attrCreatedAt:   num(m.CreatedAt.UnixMilli()),
		attrDeleted:     boolean(m.Deleted),
		attrReplyTo:     str(m.ReplyToMessageID),
	}
	if !m.EditedAt.IsZero() {
		it[attrEditedAt] = num(m.EditedAt.UnixMilli())
	}
	return it
}

func (it item) message() store.Message {
	m := store.Message{
		TenantID:         it.str(attrTenant),
		RoomID:           it.str(attrRoom),
		MessageID:        it.str(attrMessage),
		UserID:           it.str(attrUser),
		Username:         it.str(attrUsername),
		Content:          it.str(attrContent),
		MessageType:      it.str(attrMessageType),
		CreatedAt:        it.ms(attrCreatedAt),
		Deleted:          it.bool(attrDeleted),
		ReplyToMessageID: it.str(attrReplyTo),
	}
	if _, ok := it[attrEditedAt]; ok {
		m.EditedAt = it.ms(attrEditedAt)
	}
	return m
}

// image is the item as DynamoDB Streams carries it in a record's OldImage.
func (it item) image() store.Image {
	img := make(store.Image, len(it))
	for k, v := range it {
		img[k] = streamValue(v)
	}
	return img
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		m := make(map[string]events.DynamoDBAttributeValue, len(v.Value))
		for k, e := range v.Value {
			m[k] = streamValue(e)
		}
		return events.NewMapAttribute(m)
	}
	return events.NewNullAttribute()
}
