package devstack_test

import (
	"testing"
	"time"

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
