package devstack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// TestOnlineUsersReplyFits: a getOnlineUsers reply is one post to the
// connection, which the gateway refuses over its message limit (128 KiB,
// as on AWS): with limit 1000 and user ids and usernames as long as they
// may be (128 bytes each), 1000 users are some 300 KB, and the reply was
// never sent (the client waited for it in vain; the UI's lists that are
// not live stopped refreshing). The reply lists as many as fit, and
// total counts them all.
func TestOnlineUsersReplyFits(t *testing.T) {
	t.Parallel()
	st, tg := startStack(t, stackOptions{presenceMax: 1}) // no presence broadcast to the stored connections
	ctx := t.Context()
	now := time.Now()
	long := func(prefix string, i int) string {
		s := fmt.Sprintf("%s%04d", prefix, i)
		return s + strings.Repeat("x", 128-len(s))
	}
	const others = 999
	for i := range others {
		c := store.Connection{ConnectionID: fmt.Sprintf("stored-%04d", i), TenantID: "acme",
			UserID: long("user-", i), Username: long("User ", i), ConnectedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := st.Store.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var o struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
		Total int `json:"total"`
	}
	alice.OK("getOnlineUsers", map[string]any{"limit": 1000}, &o)
	if o.Total != others+1 || len(o.Users) == 0 || len(o.Users) > 1000 {
		t.Errorf("getOnlineUsers: %d users, total %d; want some, total %d", len(o.Users), o.Total, others+1)
	}
	t.Logf("%d users listed of %d", len(o.Users), o.Total)
}
