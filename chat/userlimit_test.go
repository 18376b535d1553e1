package chat_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// A $connect of a user at Config.MaxConnectionsPerUser answers 429, stores
// nothing and says why in the log; other users and the user's own
// connections are unaffected, and a disconnect frees a place.
func TestConnectOverTheUserLimit(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &testutil.Buffer{}
	svc := chat.New(st, nopPusher{}, nil, chat.Config{MaxConnectionsPerUser: 2, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := t.Context()
	connect := func(id, user string) int {
		t.Helper()
		ev := events.APIGatewayWebsocketProxyRequest{}
		ev.RequestContext.ConnectionID = id
		ev.RequestContext.Authorizer = map[string]any{"userId": user, "username": user, "tenantId": "t"}
		r, err := svc.Connect(ctx, ev)
		if err != nil {
			t.Fatalf("$connect %s: %v", id, err)
		}
		return r.StatusCode
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		if got := connect(fmt.Sprintf("a%d", i), "alice"); got != want {
			t.Fatalf("$connect %d of alice: %d, want %d", i+1, got, want)
		}
	}
	if got := connect("b0", "bob"); got != http.StatusOK {
		t.Errorf("$connect of bob: %d, want 200", got)
	}
	if n, err := st.CountUserConnections(ctx, "t", "alice", 10); err != nil || n != 2 {
		t.Errorf("alice's stored connections: %d, %v; want 2 (the refused ones are not stored)", n, err)
	}
	if !strings.Contains(logs.String(), "too many connections of the user") || !strings.Contains(logs.String(), "userId=alice") {
		t.Errorf("no log line says why alice was refused:\n%s", logs.String())
	}
	ev := events.APIGatewayWebsocketProxyRequest{}
	ev.RequestContext.ConnectionID = "a0"
	if _, err := svc.Disconnect(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := connect("a9", "alice"); got != http.StatusOK {
		t.Errorf("$connect of alice after a disconnect: %d, want 200", got)
	}
}
