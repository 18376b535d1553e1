package devstack_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// clusterNodes is the size of the cluster the suite runs on (issue 13:
// "the three-node cluster on PostgreSQL").
const clusterNodes = 3

// testCluster is n dev stacks (`switchboard dev --store postgres
// --cluster-listen …`), each with its own embedded NATS routed to the
// others and its own pool on one PostgreSQL database, on one settable
// clock.
type testCluster struct {
	nodes  []*cluster.Node
	stacks []*devstack.Stack
	clock  *chattest.Clock
}

// startCluster starts n nodes on one fresh PostgreSQL database and waits
// until every node reaches every other. fanout sends every broadcast to
// more than one connection through each node's fan-out queue.
func startCluster(t *testing.T, n int, fanout bool) *testCluster {
	t.Helper()
	url := testutil.Postgres(t)
	dir := t.TempDir() // the dev secret, shared: a token verifies on every node
	c := &testCluster{clock: chattest.NewClock()}
	var chatCfg chat.Config
	if fanout {
		chatCfg = chat.Config{FanoutThreshold: 1, FanoutBatchSize: 1}
	}
	// One cleanup closes the stacks, all of them, before any node leaves
	// the cluster: a stack's $disconnect broadcasts reach the others'
	// connections through the nodes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, st := range c.stacks {
			if err := st.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
			if dead := st.Queue.DeadLetters(); len(dead) > 0 {
				t.Errorf("fan-out batches dead-lettered: %+v", dead)
			}
		}
		for _, node := range c.nodes {
			node.Close(ctx)
		}
	})
	var seed string
	for i := range n {
		ccfg := cluster.Config{API: "chat", Listen: "127.0.0.1:0", Secret: "s", Logger: testutil.DiscardLogger()}
		if i > 0 {
			ccfg.Peers = []string{seed}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		node, err := cluster.Join(ctx, ccfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
		if i == 0 {
			seed = node.ClusterAddr().String()
		}
		store, err := postgres.Open(t.Context(), url, postgres.Options{Now: c.clock.Now, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		st, err := devstack.New(devstack.Options{
			Store: store, Cluster: node, DataDir: dir, SweepInterval: time.Hour,
			Chat:        chatCfg,
			FanoutQueue: queue.LocalOptions{Logger: testutil.DiscardLogger()},
			Now:         c.clock.Now,
			Logger:      testutil.DiscardLogger(),
		})
		if err != nil {
			store.Close()
			t.Fatal(err)
		}
		if err := node.Serve(st.Gateway); err != nil {
			t.Fatal(err)
		}
		if err := st.Serve("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		c.stacks = append(c.stacks, st)
	}
	// Every node reaches every other before clients come.
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, a := range c.nodes {
			for _, b := range c.nodes {
				if a != b && !a.Reachable(t.Context(), b.NodePrefix()) {
					return false
				}
			}
		}
		return true
	}, "the nodes reach each other")
	return c
}

// target is the suite's view of the cluster: each new client connects to
// the next node in turn, so the users of a test sit on different nodes
// (in ChatEndToEnd: Alice on the first, Bob's two tabs on the second and
// third). Sweep runs the sweepers of all nodes at once, as their timers
// would; Settle drains every node's fan-out queue.
func (c *testCluster) target() *chattest.Target {
	tg := &chattest.Target{
		URL: c.stacks[0].URL(),
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return auth.MintDevToken(c.stacks[0].Secret, id, ttl, issuedAt)
		},
		Store: c.stacks[0].Store,
		Sweep: c.sweepAll,
		Settle: func(ctx context.Context) error {
			for _, st := range c.stacks {
				if err := st.Queue.Flush(ctx); err != nil {
					return err
				}
			}
			return nil
		},
		Clock: c.clock,
	}
	for _, st := range c.stacks {
		tg.URLs = append(tg.URLs, st.URL())
	}
	return tg
}

// sweepAll runs every node's sweeper at the same time and returns how
// many items they removed together: each expired item must be removed
// (and cleaned up) by exactly one of them.
func (c *testCluster) sweepAll(ctx context.Context) (int, error) {
	var wg sync.WaitGroup
	counts := make([]int, len(c.stacks))
	errs := make([]error, len(c.stacks))
	for i, st := range c.stacks {
		wg.Go(func() { counts[i], errs[i] = st.Sweep(ctx) })
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total, errors.Join(errs...)
}

// TestChatOnThreeClusterNodes runs the chat end-to-end suite on three
// cluster nodes (embedded NATS) on one PostgreSQL, the clients of each
// test spread over the nodes, broadcasting directly and through the
// fan-out queue. Each test has a cluster, a database and a clock of its
// own, so the tests run in parallel.
func TestChatOnThreeClusterNodes(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t) // skips (or fails) here, once, without PostgreSQL
	for name, fanout := range map[string]bool{"direct": false, "fan-out": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			chattest.RunParallel(t, func(t *testing.T) *chattest.Target {
				return startCluster(t, clusterNodes, fanout).target()
			})
		})
	}
}

// TestClusterSweepersCleanOnce: an expired connection (a member of a room
// whose socket is gone) with the sweepers of three nodes running at the
// same time, again and again, is removed once: the room hears one
// user_left, and the tenant one presence offline, on every node.
func TestClusterSweepersCleanOnce(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t)
	c := startCluster(t, clusterNodes, false)
	tg := c.target()
	ctx := t.Context()
	acme := "acme-sweep"
	var clients []*chattest.Client
	for _, name := range []string{"alice", "bob", "carol"} { // one per node
		clients = append(clients, tg.Connect(t, name, name, acme))
	}
	// The target spread them: each user's connection id leads to a
	// different node.
	for i, name := range []string{"alice", "bob", "carol"} {
		cs, err := tg.Store.UserConnections(ctx, acme, name)
		if err != nil || len(cs) != 1 || !strings.HasPrefix(cs[0].ConnectionID, c.nodes[i].NodePrefix()) {
			t.Fatalf("%s's connections %+v (%v), want one on node %d (prefix %s)", name, cs, err, i, c.nodes[i].NodePrefix())
		}
	}
	var room chattest.Room
	clients[0].OK("createRoom", map[string]any{"name": "Sweep"}, &room)
	for _, cl := range clients {
		cl.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	}
	// The ghost: its records, expiring a millisecond from now (live when
	// it joins: no store lets a connection that has expired join), and no
	// socket.
	now := c.clock.Now()
	ghost := putClusterGhost(t, tg, acme, room.RoomID, now.Add(-10*time.Minute+time.Millisecond))
	c.clock.Add(time.Second)

	total := 0
	for range 5 {
		n, err := c.sweepAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 2 { // the connection and its membership
		t.Fatalf("the sweepers removed %d items together, want 2 (the ghost's connection and membership)", total)
	}
	if _, err := tg.Store.GetConnection(ctx, ghost); err == nil {
		t.Fatal("the ghost is still in the store")
	}
	isLeft := func(f chattest.Frame) bool {
		return f.Type == "user_left" && f.RoomID == room.RoomID && strings.Contains(string(f.Data), `"ghost"`)
	}
	isOffline := func(f chattest.Frame) bool {
		return f.Type == "presence" && strings.Contains(string(f.Data), `"ghost"`) && strings.Contains(string(f.Data), `"offline"`)
	}
	for _, cl := range clients {
		cl.Broadcast("user_left", room.RoomID, func(d map[string]any) bool { return d["userId"] == "ghost" })
		cl.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "ghost" && d["status"] == "offline" })
	}
	// Whatever the sweeps broadcast has arrived by now (Quiet settles
	// and makes a round trip): nothing twice.
	for _, cl := range clients {
		cl.Quiet(isLeft, "second user_left for the ghost")
		cl.Quiet(isOffline, "second presence offline for the ghost")
	}
}

// putClusterGhost stores a connection of user "ghost" of tenant, expiring
// ten minutes after at, as a member of roomID, with no socket anywhere:
// its id has the cluster's shape under a prefix no node holds.
func putClusterGhost(t *testing.T, tg *chattest.Target, tenant, roomID string, at time.Time) string {
	t.Helper()
	ctx := t.Context()
	b := make([]byte, 8)
	rand.Read(b)
	id := "AAAA" + base64.URLEncoding.EncodeToString(b)[:11] + "="
	ghost := store.Connection{ConnectionID: id, TenantID: tenant, UserID: "ghost", Username: "Ghost",
		ConnectedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	if err := tg.Store.PutConnection(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Store.JoinRoom(ctx, store.Membership{TenantID: tenant, RoomID: roomID, ConnectionID: id,
		UserID: "ghost", Username: "Ghost", JoinedAt: at, ExpiresAt: ghost.ExpiresAt}, 0); err != nil {
		t.Fatal(err)
	}
	return id
}
