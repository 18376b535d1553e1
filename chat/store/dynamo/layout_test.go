package dynamo

import (
	"fmt"
	"testing"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// A tenant id holding '#' or '%' round-trips alike through the DynamoDB
// store and through store.ConnectionImage / store.MembershipImage (the
// images the embedded store's sweeper hands the cleanup handler): both
// write the single-table layout of docs/store.md, keys included, so that
// an image names the item the store wrote.
func TestImagesMatchItemsForEscapedTenants(t *testing.T) {
	s, _, _ := testStore(t)
	ctx := t.Context()
	for i, tenant := range []string{"plain", "a#b", "50%off", "x%23y", "#%#"} {
		c := testConn(fmt.Sprintf("c%d", i), tenant, "u")
		must(t, s.PutConnection(ctx, c))
		m := testMember(c, "r")
		if _, err := s.JoinRoom(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			want store.Image
		}{
			{"connection", store.ConnectionImage(c)},
			{"membership", store.MembershipImage(m)},
		} {
			pk, sk := tc.want["PK"].String(), tc.want["SK"].String()
			it := s.rawGet(t, pk, sk)
			if len(it) == 0 {
				t.Errorf("tenant %q: the %s image's key %s / %s names no item the store wrote", tenant, tc.name, pk, sk)
				continue
			}
			img := it.image()
			for a, v := range tc.want {
				if fmt.Sprint(img[a]) != fmt.Sprint(v) {
					t.Errorf("tenant %q: %s image: %s = %v, the store wrote %v", tenant, tc.name, a, v, img[a])
				}
			}
			got, err := tc.want.Membership()
			if tc.name == "membership" && (err != nil || got.TenantID != tenant) {
				t.Errorf("tenant %q: membership image decodes to tenant %q, %v", tenant, got.TenantID, err)
			}
		}
	}
}
