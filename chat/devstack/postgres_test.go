package devstack_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestChatOnPostgres runs the chat end-to-end suite with the PostgreSQL
// store (`switchboard dev --store postgres`) against a real PostgreSQL,
// each test on a fresh stack with a database of its own.
func TestChatOnPostgres(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t) // skips (or fails) here, once, without PostgreSQL
	chattest.Run(t, func(t *testing.T) *chattest.Target {
		url := testutil.Postgres(t) // dropped after the stack closes
		newStore := func(now func() time.Time) store.Store {
			s, err := postgres.Open(t.Context(), url, postgres.Options{Now: now, MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		_, tg := startStack(t, stackOptions{newStore: newStore})
		return tg
	})
}

// TestPostgresOutage: while the database refuses connections, requests
// fail with INTERNAL_ERROR and what failed is not broadcast; once it is
// back, the pool reconnects by itself, and history holds every message
// that was acknowledged, before and after, and none that was refused.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	newStore := func(now func() time.Time) store.Store {
		s, err := postgres.Open(t.Context(), url, postgres.Options{Now: now, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, tg := startStack(t, stackOptions{newStore: newStore})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	bob := tg.Connect(t, "bob", "Bob", "acme")
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	var before chattest.Message
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "before"}, &before)
	bob.Broadcast("message", room.RoomID, func(d map[string]any) bool { return d["messageId"] == before.MessageID })

	// The outage: no new connections to the database, and the pool's
	// are cut.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Database
	cfg.Database = "postgres" // the maintenance database of the test server
	admin, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`ALTER DATABASE ` + db + ` ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + db + `'`)
	alice.Fails("sendMessage", map[string]any{"roomId": room.RoomID, "content": "during"}, "INTERNAL_ERROR")

	exec(`ALTER DATABASE ` + db + ` ALLOW_CONNECTIONS true`)
	var after chattest.Message
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "after"}, &after)
	bob.Broadcast("message", room.RoomID, func(d map[string]any) bool { return d["messageId"] == after.MessageID })
	bob.Quiet(func(f chattest.Frame) bool {
		return f.Type == "message" && strings.Contains(string(f.Data), `"during"`)
	}, "the refused message", alice)
	var hist struct {
		Messages []chattest.Message `json:"messages"`
	}
	bob.OK("getRoomHistory", map[string]any{"roomId": room.RoomID}, &hist)
	var contents []string
	for _, m := range hist.Messages {
		contents = append(contents, m.Content)
	}
	if !slices.Equal(contents, []string{"after", "before"}) {
		t.Errorf("history after the outage: %q, want [after before]", contents)
	}
}
