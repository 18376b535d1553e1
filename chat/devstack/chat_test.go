package devstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// stackOptions vary the stacks the suite runs against.
type stackOptions struct {
	dir    string // "" for a fresh one
	viaAPI bool   // push through the @connections API
	// newStore replaces the embedded store, on the stack's clock.
	newStore func(now func() time.Time) store.Store
	// fanout sends every broadcast to more than one connection through an
	// in-process fan-out queue (queue.Local, as SQS on AWS), one
	// connection per batch.
	fanout bool
	// announceMax is chat.Config.AnnounceMaxMembers (0: the default).
	announceMax int
	// presenceMax is chat.Config.PresenceMaxConnections (0: the default).
	presenceMax int
}

// startStack serves a dev stack on a loopback port, on a settable clock.
// The sweeper runs only when the test calls Sweep.
func startStack(t *testing.T, o stackOptions) (*devstack.Stack, *chattest.Target) {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	clk := chattest.NewClock()
	var st0 store.Store
	if o.newStore != nil {
		st0 = o.newStore(clk.Now)
	}
	var chatCfg chat.Config
	if o.fanout {
		chatCfg = chat.Config{FanoutThreshold: 1, FanoutBatchSize: 1}
	}
	chatCfg.AnnounceMaxMembers = o.announceMax
	chatCfg.PresenceMaxConnections = o.presenceMax
	st, err := devstack.New(devstack.Options{
		FanoutQueue:      queue.LocalOptions{Logger: testutil.DiscardLogger()},
		Chat:             chatCfg,
		DataDir:          o.dir,
		SweepInterval:    time.Hour,
		ViaManagementAPI: o.viaAPI,
		Store:            st0,
		Now:              clk.Now,
		Logger:           testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// No fan-out batch failed for good, during the test or the
		// shutdown ($disconnect's broadcasts are drained by Close).
		if err := st.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if dead := st.Queue.DeadLetters(); len(dead) > 0 {
			t.Errorf("fan-out batches dead-lettered: %+v", dead)
		}
	})
	return st, &chattest.Target{
		URL: st.URL(),
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return auth.MintDevToken(st.Secret, id, ttl, issuedAt)
		},
		Store:  st.Store,
		Sweep:  st.Sweep,
		Settle: st.Queue.Flush,
		Clock:  clk,
	}
}

// TestChat runs the end-to-end suite on `switchboard dev`: the handlers
// in-process, pushing straight into the gateway, and the same handlers
// pushing through the @connections HTTP API with the AWS SDK client, as
// they do on AWS. Each test gets a fresh stack.
func TestChat(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]stackOptions{
		"in-process":     {},
		"management-api": {viaAPI: true},
		// Broadcasts through the fan-out queue and its handler, pushing
		// through the @connections API, as on AWS with a fan-out queue.
		"fan-out": {viaAPI: true, fanout: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			chattest.Run(t, func(t *testing.T) *chattest.Target {
				_, tg := startStack(t, o)
				return tg
			})
		})
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, tg := startStack(t, stackOptions{dir: dir})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var lobby chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	var sent []string
	for i := 0; i < 20; i++ {
		var m chattest.Message
		alice.OK("sendMessage", map[string]any{"content": "m" + string(rune('a'+i))}, &m)
		sent = append(sent, m.MessageID)
	}
	token := tg.MintToken(t, "alice", "Alice", "acme")
	if err := st.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}

	_, tg2 := startStack(t, stackOptions{dir: dir})
	alice2 := tg2.ConnectToken(t, "alice", token) // the same secret signs tokens after a restart
	var hist struct {
		Messages []chattest.Message `json:"messages"`
	}
	alice2.OK("getRoomHistory", map[string]any{"roomId": lobby.RoomID, "limit": 100}, &hist)
	if len(hist.Messages) != len(sent) {
		t.Fatalf("%d messages after restart, want %d", len(hist.Messages), len(sent))
	}
	for i, m := range hist.Messages {
		if m.MessageID != sent[len(sent)-1-i] {
			t.Fatalf("message %d is %s, want %s", i, m.MessageID, sent[len(sent)-1-i])
		}
	}
}
