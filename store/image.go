package store

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Image is an item as DynamoDB Streams carries it (the OldImage of a REMOVE
// record). Attribute names are those of the single-table design in
// docs/store.md, so the cleanup handler reads the same images locally and
// on AWS.
type Image map[string]events.DynamoDBAttributeValue

// Item types: the "type" attribute of ephemeral items.
const (
	TypeConnection = "CONNECTION"
	TypeMembership = "MEMBERSHIP"
)

// Key prefixes of the single-table design.
func connectionPK(id string) string         { return "CONN#" + id }
func roomPK(tenant, room string) string     { return "TENANT#" + tenant + "#ROOM#" + room }
func membershipSK(connection string) string { return "MEMBER#" + connection }

// ConnectionImage is the item of a connection.
func ConnectionImage(c Connection) Image {
	return Image{
		"PK":           events.NewStringAttribute(connectionPK(c.ConnectionID)),
		"SK":           events.NewStringAttribute("META"),
		"type":         events.NewStringAttribute(TypeConnection),
		"connectionId": events.NewStringAttribute(c.ConnectionID),
		"tenantId":     events.NewStringAttribute(c.TenantID),
		"userId":       events.NewStringAttribute(c.UserID),
		"username":     events.NewStringAttribute(c.Username),
		"connectedAt":  events.NewNumberAttribute(strconv.FormatInt(c.ConnectedAt.UnixMilli(), 10)),
		"expiresAt":    events.NewNumberAttribute(strconv.FormatInt(c.ExpiresAt.Unix(), 10)),
		"sourceIp":     events.NewStringAttribute(c.SourceIP),
		"userAgent":    events.NewStringAttribute(c.UserAgent),
	}
}

// MembershipImage is the item of a membership.
func MembershipImage(m Membership) Image {
	return Image{
		"PK":           events.NewStringAttribute(roomPK(m.TenantID, m.RoomID)),
		"SK":           events.NewStringAttribute(membershipSK(m.ConnectionID)),
		"type":         events.NewStringAttribute(TypeMembership),
		"tenantId":     events.NewStringAttribute(m.TenantID),
		"roomId":       events.NewStringAttribute(m.RoomID),
		"connectionId": events.NewStringAttribute(m.ConnectionID),
		"userId":       events.NewStringAttribute(m.UserID),
		"username":     events.NewStringAttribute(m.Username),
		"joinedAt":     events.NewNumberAttribute(strconv.FormatInt(m.JoinedAt.UnixMilli(), 10)),
		"expiresAt":    events.NewNumberAttribute(strconv.FormatInt(m.ExpiresAt.Unix(), 10)),
	}
}

// Type returns the item's type attribute ("" if absent).
func (img Image) Type() string { return img.str("type") }

// Connection decodes a connection image.
func (img Image) Connection() (Connection, error) {
	if t := img.Type(); t != TypeConnection {
		return Connection{}, fmt.Errorf("store: image of type %q is not a connection", t)
	}
	c := Connection{
		ConnectionID: img.str("connectionId"),
		TenantID:     img.str("tenantId"),
		UserID:       img.str("userId"),
		Username:     img.str("username"),
		SourceIP:     img.str("sourceIp"),
		UserAgent:    img.str("userAgent"),
		ConnectedAt:  time.UnixMilli(img.num("connectedAt")),
		ExpiresAt:    time.Unix(img.num("expiresAt"), 0),
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
		TenantID:     img.str("tenantId"),
		RoomID:       img.str("roomId"),
		ConnectionID: img.str("connectionId"),
		UserID:       img.str("userId"),
		Username:     img.str("username"),
		JoinedAt:     time.UnixMilli(img.num("joinedAt")),
		ExpiresAt:    time.Unix(img.num("expiresAt"), 0),
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
