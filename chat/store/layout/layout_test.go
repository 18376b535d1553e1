package layout

import (
	"strings"
	"testing"
)

// The keys are those the DynamoDB store has written on AWS: verbatim for
// tenant ids without '%' or '#', percent-encoded otherwise.
func TestKeysAsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{RoomPK("t", "r"), "TENANT#t#ROOM#r"},
		{RoomPK("a#b", "r"), "TENANT#a%23b#ROOM#r"},
		{RoomPK("50%off", "r"), "TENANT#50%25off#ROOM#r"},
		{RoomPK("x%23y", "r"), "TENANT#x%2523y#ROOM#r"},
		{UserPK("t#ROOM#r", "u"), "TENANT#t%23ROOM%23r#USER#u"},
		{MessagePK("t", "m"), "TENANT#t#MSG#m"},
		{TenantConnectionsPK("t"), "TENANT#t#CONNS"},
		{TenantRoomsPK("t"), "TENANT#t#ROOMS"},
		{UserRoomsPK("t", "u"), "TENANT#t#USER#u#ROOMS"},
		{RoomMessagesPK("t", "r"), "TENANT#t#ROOM#r#MSGS"},
		{ConnectionPK("c"), "CONN#c"},
		{ConnectionSK("c"), "CONN#c"},
		{MemberSK("c"), "MEMBER#c"},
		{AccessSK("u"), "ACCESS#u"},
		{ConnRoomSK("t", "r"), "ROOM#t#r"},
		{ConnRoomSK("a#b", "r"), "ROOM#a%23b#r"},
		{RoomOrder(1748779200123, "r"), "1748779200123#r"},
		{RoomOrder(5, "r"), "0000000000005#r"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
}

// Tenant ids round-trip through keys, and no two tenants share one.
func TestTenantRoundTrip(t *testing.T) {
	t.Parallel()
	tenants := []string{"t", "", "a#b", "50%off", "x%23y", "x#y", "%", "#", "%25", "#%#", "t#ROOM#r"}
	seen := map[string]string{}
	for _, tenant := range tenants {
		pk := RoomPK(tenant, "room#1")
		if other, ok := seen[pk]; ok {
			t.Errorf("tenants %q and %q share the key %q", tenant, other, pk)
		}
		seen[pk] = tenant
		gt, gr, err := ParseRoomPK(pk)
		if err != nil || gt != tenant || gr != "room#1" {
			t.Errorf("ParseRoomPK(%q) = %q, %q, %v; want %q, room#1", pk, gt, gr, err, tenant)
		}
		sk := ConnRoomSK(tenant, "room#1")
		gt, gr, err = ParseConnRoomSK(sk)
		if err != nil || gt != tenant || gr != "room#1" {
			t.Errorf("ParseConnRoomSK(%q) = %q, %q, %v; want %q, room#1", sk, gt, gr, err, tenant)
		}
	}
}

// Keys the layout never writes are errors naming what is wrong.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		parse func(string) (string, string, error)
		in    string
		want  string
	}{
		{ParseRoomPK, "CONN#c", "TENANT#"},
		{ParseRoomPK, "TENANT#t#USER#u", "#ROOM#"},
		{ParseRoomPK, "TENANT#a%2xb#ROOM#r", "%25 or %23"},
		{ParseConnRoomSK, "MEMBER#c", "ROOM#"},
		{ParseConnRoomSK, "ROOM#t", "'#'"},
		{ParseConnRoomSK, "ROOM#50%#r", "%25 or %23"},
	} {
		_, _, err := tc.parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsing %q: %v, want an error mentioning %q", tc.in, err, tc.want)
		}
	}
}

func FuzzTenantRoundTrip(f *testing.F) {
	for _, s := range []string{"t", "a#b", "50%off", "x%23y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tenant string) {
		got, err := UnescapeTenant(EscapeTenant(tenant))
		if err != nil || got != tenant {
			t.Errorf("UnescapeTenant(EscapeTenant(%q)) = %q, %v", tenant, got, err)
		}
	})
}
