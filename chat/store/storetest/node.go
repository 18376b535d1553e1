package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var nodeSweeperTests = []subtest{
	{"nodes/deletes the connections of a dead node", testNodeSweep},
	{"nodes/concurrent callers each get a connection once", testNodeSweepConcurrent},
	{"nodes/the prefixes of the stored connections", testNodePrefixes},
}

func nodeSweeperOf(t *testing.T, e *env) store.NodeSweeper {
	t.Helper()
	ns, ok := e.s.(store.NodeSweeper)
	if !ok {
		t.Skip("the store does not implement store.NodeSweeper")
	}
	return ns
}

// nodeID is a connection id of the node of prefix (4 characters), as a
// clustered gateway mints it: 16 characters of URL-safe base64.
func nodeID(prefix, rest string) string { return prefix + rest + "=" }

// drainNode calls DeleteNodeConnections until it returns nothing and
// collects the images, checking that each call puts the memberships
// before the connections.
func drainNode(t *testing.T, e *env, ns store.NodeSweeper, prefix string, limit int) ([]store.Connection, []store.Membership) {
	t.Helper()
	var conns []store.Connection
	var members []store.Membership
	for call := 0; ; call++ {
		imgs, err := ns.DeleteNodeConnections(e.ctx, prefix, limit)
		must(t, err)
		if len(imgs) == 0 {
			return conns, members
		}
		if call > 100 {
			t.Fatal("DeleteNodeConnections keeps returning images")
		}
		sawConn := false
		for _, img := range imgs {
			switch img.Type() {
			case store.TypeConnection:
				c, err := img.Connection()
				must(t, err)
				conns = append(conns, c)
				sawConn = true
			case store.TypeMembership:
				m, err := img.Membership()
				must(t, err)
				members = append(members, m)
				if sawConn {
					t.Errorf("call %d: a membership image after a connection image", call)
				}
			default:
				t.Errorf("image of type %q: %v", img.Type(), img)
			}
		}
	}
}

func testNodeSweep(t *testing.T, e *env) {
	ns := nodeSweeperOf(t, e)
	e.createRooms(t, newRoom(tenantA, "r1", Start, false))
	const dead = "Pq_-"
	// Alice has two tabs on the dead node, both in r1; Bob one, expired
	// already; Carol is on nodes whose prefixes sort right beside it.
	a1 := e.putConn(t, nodeID(dead, "AAAAAAAAAAA"), tenantA, alice)
	a2 := e.putConn(t, nodeID(dead, "zzzzzzzzzzz"), tenantA, alice)
	e.clk.Advance(-ttl - time.Minute)
	b1 := e.putConn(t, nodeID(dead, "-__________"), tenantB, bob)
	e.clk.Advance(ttl + time.Minute)
	c1 := e.putConn(t, nodeID("Pq_0", "AAAAAAAAAAA"), tenantA, carol)
	c2 := e.putConn(t, nodeID("Pq__", "AAAAAAAAAAA"), tenantA, carol)
	c3 := e.putConn(t, nodeID("Pq-_", "zzzzzzzzzzz"), tenantA, carol)
	ma1, ma2 := e.join(t, a1, "r1"), e.join(t, a2, "r1")
	ma3 := e.join(t, a1, "r2")
	mc1 := e.join(t, c1, "r1")
	if ok, err := e.s.TakeTypingSlot(e.ctx, a1.ConnectionID, e.clk.Now(), time.Minute); err != nil || !ok {
		t.Fatalf("TakeTypingSlot = %v, %v", ok, err)
	}

	conns, members := drainNode(t, e, ns, dead, 2)
	sameSet(t, "connections of the dead node", conns, []store.Connection{a1, a2, b1}, imageConn, connKey)
	sameSet(t, "memberships of the dead node", members, []store.Membership{ma1, ma2, ma3}, imageMember, memberKey)

	// Gone, with their typing slot; the other nodes' connections stay.
	for _, c := range []store.Connection{a1, a2, b1} {
		if _, err := e.s.GetConnection(e.ctx, c.ConnectionID); err == nil {
			t.Errorf("connection %s of the dead node is still there", c.ConnectionID)
		}
	}
	if ok, err := e.s.TakeTypingSlot(e.ctx, a1.ConnectionID, e.clk.Now(), time.Minute); err != nil || !ok {
		t.Errorf("the typing slot of a removed connection still limits: %v, %v", ok, err)
	}
	for _, c := range []store.Connection{c1, c2, c3} {
		got, err := e.s.GetConnection(e.ctx, c.ConnectionID)
		must(t, err)
		same(t, "connection of another node", got, c, normConn)
	}
	rm, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "members of r1", rm, []store.Membership{mc1}, normMember)
	n, err := e.s.CountUserConnections(e.ctx, tenantA, alice, 5)
	must(t, err)
	if n != 0 {
		t.Errorf("alice has %d connections after her node's were removed", n)
	}
	// Nothing of a prefix without connections.
	if imgs, err := ns.DeleteNodeConnections(e.ctx, "Zzzz", 10); err != nil || len(imgs) != 0 {
		t.Errorf("DeleteNodeConnections of an empty prefix = %v, %v", imgs, err)
	}
}

func testNodeSweepConcurrent(t *testing.T, e *env) {
	ns := nodeSweeperOf(t, e)
	const dead = "dEaD"
	const n = 24
	var want []store.Connection
	for i := range n {
		c := e.putConn(t, nodeID(dead, string(rune('A'+i))+"0000000000"), tenantA, alice)
		e.join(t, c, "r1")
		want = append(want, c)
	}
	var (
		mu      sync.Mutex
		got     []store.Connection
		members int
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				imgs, err := ns.DeleteNodeConnections(e.ctx, dead, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(imgs) == 0 {
					return
				}
				mu.Lock()
				for _, img := range imgs {
					switch img.Type() {
					case store.TypeConnection:
						c, err := img.Connection()
						if err != nil {
							t.Error(err)
						}
						got = append(got, c)
					case store.TypeMembership:
						members++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sameSet(t, "connections removed by four callers", got, want, imageConn, connKey)
	if members != n {
		t.Errorf("%d membership images, want %d (one per connection)", members, n)
	}
}

// testNodePrefixes: NodePrefixes lists each node prefix once, in byte
// order, expired connections included (their node may be dead too), up to
// the limit, and follows deletions.
func testNodePrefixes(t *testing.T, e *env) {
	nl, ok := e.s.(store.NodeLister)
	if !ok {
		t.Skip("the store does not implement store.NodeLister")
	}
	if got, err := nl.NodePrefixes(e.ctx, 0); err != nil || len(got) != 0 {
		t.Fatalf("NodePrefixes of an empty store = %q, %v", got, err)
	}
	e.clk.Advance(-ttl - time.Minute)
	e.putConn(t, nodeID("Pq-_", "AAAAAAAAAAA"), tenantA, alice) // expired
	e.clk.Advance(ttl + time.Minute)
	e.putConn(t, nodeID("Pq_0", "AAAAAAAAAAA"), tenantA, alice)
	e.putConn(t, nodeID("Pq_0", "zzzzzzzzzzz"), tenantB, bob)
	e.putConn(t, nodeID("Pq__", "-__________"), tenantA, carol)
	e.putConn(t, nodeID("Pq__", "___________"), tenantA, carol)
	got, err := nl.NodePrefixes(e.ctx, 0)
	must(t, err)
	if want := []string{"Pq-_", "Pq_0", "Pq__"}; !slices.Equal(got, want) {
		t.Fatalf("NodePrefixes = %q, want %q", got, want)
	}
	got, err = nl.NodePrefixes(e.ctx, 2)
	must(t, err)
	if want := []string{"Pq-_", "Pq_0"}; !slices.Equal(got, want) {
		t.Errorf("NodePrefixes limit 2 = %q, want %q", got, want)
	}
	if ns, ok := e.s.(store.NodeSweeper); ok {
		drainNode(t, e, ns, "Pq_0", 0)
		got, err = nl.NodePrefixes(e.ctx, 0)
		must(t, err)
		if want := []string{"Pq-_", "Pq__"}; !slices.Equal(got, want) {
			t.Errorf("NodePrefixes after a node's removal = %q, want %q", got, want)
		}
	}
}
