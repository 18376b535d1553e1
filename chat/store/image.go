package store

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/store/layout"
)

// Image is an item as DynamoDB Streams carries it (the OldImage of a REMOVE
// record). Attribute names and keys are those of the single-table design
// in docs/store.md (package store/layout, which the DynamoDB store writes
// with), so the cleanup handler reads the same images locally and on AWS.
type Image map[string]events.DynamoDBAttributeValue

// Item types: the "type" attribute of ephemeral items (store/layout's).
const (
	TypeConnection = layout.TypeConnection
	TypeMembership = layout.TypeMembership
)

// ConnectionImage is the item of a connection.
func ConnectionImage(c Connection) Image {
	return Image{
		layout.AttrPK:          events.NewStringAttribute(layout.ConnectionPK(c.ConnectionID)),
		layout.AttrSK:          events.NewStringAttribute(layout.SKMeta),
		layout.AttrType:        events.NewStringAttribute(TypeConnection),
		layout.AttrConnection:  events.NewStringAttribute(c.ConnectionID),
		layout.AttrTenant:      events.NewStringAttribute(c.TenantID),
		layout.AttrUser:        events.NewStringAttribute(c.UserID),
		layout.AttrUsername:    events.NewStringAttribute(c.Username),
		layout.AttrConnectedAt: events.NewNumberAttribute(strconv.FormatInt(c.ConnectedAt.UnixMilli(), 10)),
		layout.AttrExpiresAt:   events.NewNumberAttribute(strconv.FormatInt(c.ExpiresAt.Unix(), 10)),
		layout.AttrSourceIP:    events.NewStringAttribute(c.SourceIP),
		layout.AttrUserAgent:   events.NewStringAttribute(c.UserAgent),
	}
}

// MembershipImage is the item of a membership.
func MembershipImage(m Membership) Image {
	return Image{
		layout.AttrPK:         events.NewStringAttribute(layout.RoomPK(m.TenantID, m.RoomID)),
		layout.AttrSK:         events.NewStringAttribute(layout.MemberSK(m.ConnectionID)),
		layout.AttrType:       events.NewStringAttribute(TypeMembership),
		layout.AttrTenant:     events.NewStringAttribute(m.TenantID),
		layout.AttrRoom:       events.NewStringAttribute(m.RoomID),
		layout.AttrConnection: events.NewStringAttribute(m.ConnectionID),
		layout.AttrUser:       events.NewStringAttribute(m.UserID),
		layout.AttrUsername:   events.NewStringAttribute(m.Username),
		layout.AttrJoinedAt:   events.NewNumberAttribute(strconv.FormatInt(m.JoinedAt.UnixMilli(), 10)),
		layout.AttrExpiresAt:  events.NewNumberAttribute(strconv.FormatInt(m.ExpiresAt.Unix(), 10)),
	}
}

// Type returns the item's type attribute ("" if absent).
func (img Image) Type() string { return img.str(layout.AttrType) }

// Connection decodes a connection image.
func (img Image) Connection() (Connection, error) {
	if t := img.Type(); t != TypeConnection {
		return Connection{}, fmt.Errorf("store: image of type %q is not a connection", t)
	}
	c := Connection{
		ConnectionID: img.str(layout.AttrConnection),
		TenantID:     img.str(layout.AttrTenant),
		UserID:       img.str(layout.AttrUser),
		Username:     img.str(layout.AttrUsername),
		SourceIP:     img.str(layout.AttrSourceIP),
		UserAgent:    img.str(layout.AttrUserAgent),
		ConnectedAt:  time.UnixMilli(img.num(layout.AttrConnectedAt)),
		ExpiresAt:    time.Unix(img.num(layout.AttrExpiresAt), 0),
	}
	if c.ConnectionID == "" || c.TenantID == "" || c.UserID == "" {
		return Connection{}, fmt.Errorf("store: connection image lacks connectionId, tenantId or userId")
	}
	return c, nil
}

// Membership decodes a membership image.
func (img Image) Membership() (Membership, error) {
	if t := img.Type(); t != TypeMembership {
		return Membership{}, fmt.Errorf("store: image of type %q is not a membership", t)
	}
	m := Membership{
		TenantID:     img.str(layout.AttrTenant),
		RoomID:       img.str(layout.AttrRoom),
		ConnectionID: img.str(layout.AttrConnection),
		UserID:       img.str(layout.AttrUser),
		Username:     img.str(layout.AttrUsername),
		JoinedAt:     time.UnixMilli(img.num(layout.AttrJoinedAt)),
		ExpiresAt:    time.Unix(img.num(layout.AttrExpiresAt), 0),
	}
	if m.ConnectionID == "" || m.TenantID == "" || m.RoomID == "" {
		return Membership{}, fmt.Errorf("store: membership image lacks connectionId, tenantId or roomId")
	}
	return m, nil
}

func (img Image) str(name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

func (img Image) num(name string) int64 {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeNumber {
		return 0
	}
	n, _ := strconv.ParseInt(v.Number(), 10, 64)
	return n
}
