package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// TestRateLimitedError: a request past the connection's limit fails with
// an *Error of code RATE_LIMITED whose RetryAfter is the server's hint.
func TestRateLimitedError(t *testing.T) {
	t.Parallel()
	st, err := devstack.New(devstack.Options{DataDir: t.TempDir(), SweepInterval: time.Hour, NoUI: true,
		Chat:   chat.Config{ActionRate: 1e-6, ActionBurst: 3},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	c, err := client.Dial(context.Background(), client.Options{
		URL:               st.URL(),
		TokenFunc:         func(context.Context) (string, error) { return st.Token("alice", "Alice", "acme", time.Hour) },
		HeartbeatInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	for range 3 {
		if _, err := c.OnlineUsers(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.OnlineUsers(ctx, "")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeRateLimited || apiErr.RetryAfter < time.Millisecond || !strings.Contains(apiErr.Message, "too many") {
		t.Fatalf("past the limit: %#v, want RATE_LIMITED with RetryAfter", err)
	}
}
