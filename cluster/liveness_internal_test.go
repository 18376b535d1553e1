package cluster

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// nopLocal holds no connection.
type nopLocal struct{}

func (nopLocal) Post(context.Context, string, []byte) error { return gateway.ErrGone }
func (nopLocal) Info(context.Context, string) (gateway.ConnectionInfo, error) {
	return gateway.ConnectionInfo{}, gateway.ErrGone
}
func (nopLocal) Disconnect(context.Context, string) error { return gateway.ErrGone }
func (nopLocal) PostFrame(_ context.Context, ids []string, _ []byte) []string {
	return ids
}

// fakeClock is the liveness clock of the nodes of a test: it moves only
// when the test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// reaps records the OnNodeDead calls of the nodes of a test.
type reaps struct {
	mu    sync.Mutex
	calls map[string][]string // node prefix → dead prefixes, in order
	fail  int                 // how many calls fail first (the store is down)
}

func (r *reaps) fn(node *Node) DeadFunc {
	return func(_ context.Context, prefix string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[node.prefix] = append(r.calls[node.prefix], prefix)
		if r.fail > 0 {
			r.fail--
			return errors.New("the store is down")
		}
		return nil
	}
}

func (r *reaps) of(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[prefix])
}

func (r *reaps) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += len(c)
	}
	return n
}

// heard reports whether l has heard a beat of prefix at the clock's time at.
func heard(l *liveness, prefix string, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.peers[prefix]
	return st != nil && st.heard.Equal(at)
}

// TestDeadNodeRule walks the rule of liveness.go on a real NATS, with the
// nodes' clock in the test's hands (no timing in the assertions):
//   - a node silent for just under DeadAfter is not judged, even when NATS
//     already says it has no subscription (a brief disconnection);
//   - at DeadAfter, a silent node that NATS still sees subscribed is
//     spared, whether it answers the ping (slow) or not (stuck);
//   - one that NATS does not see is declared dead, on every node, and
//     exactly one node, the live one with the smallest prefix, cleans up;
//     its ids are 410 at once;
//   - when that node dies in turn, the survivor cleans up after it, and
//     not again after the first (it was told the first was done);
//   - a node declared dead that beats again is taken back.
func TestDeadNodeRule(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	const deadAfter = 2 * time.Hour // the loop never ticks: the test calls check
	clk := &fakeClock{t: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
	t0 := clk.Now()
	r := &reaps{calls: map[string][]string{}, fail: 1}
	var nodes []*Node
	for range 3 {
		n, err := Join(t.Context(), Config{URL: ns.ClientURL(), API: "live", BeatInterval: time.Hour, DeadAfter: deadAfter,
			RequestTimeout: 300 * time.Millisecond, Logger: testutil.DiscardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		n.clock = clk.Now
		n.OnNodeDead(r.fn(n))
		if err := n.Serve(nopLocal{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		nodes = append(nodes, n)
	}
	// The smallest prefix is the first reaper; c is the node that dies.
	slices.SortFunc(nodes, func(a, b *Node) int { return compare(a.prefix, b.prefix) })
	first, second, c := nodes[0], nodes[1], nodes[2]
	survivors := []*Node{first, second}

	// A stuck node: subscribed to its ping subject, never answering.
	stuck := "zzzz"
	raw, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Subscribe("switchboard.live.node."+stuck+".ping", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	must(t, raw.Flush())
	beatOf := func(prefix string, kind byte) {
		t.Helper()
		must(t, raw.Publish("switchboard.live.beat", []byte{wireVersion, kind, prefix[0], prefix[1], prefix[2], prefix[3]}))
	}

	// Everyone beats at t0.
	beatAll := func(at time.Time, ns []*Node, extra ...string) {
		t.Helper()
		clk.Set(at)
		for _, n := range ns {
			n.live.beat()
		}
		for _, p := range extra {
			beatOf(p, beatAlive)
		}
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, o := range survivors {
				for _, n := range ns {
					if n != o && !heard(o.live, n.prefix, at) {
						return false
					}
				}
				for _, p := range extra {
					if !heard(o.live, p, at) {
						return false
					}
				}
			}
			return true
		}, "the beats of %v reach the survivors", at)
	}
	beatAll(t0, nodes, stuck)

	// kill -9 of c: its connection to NATS closes, its subscription goes,
	// no leave message.
	c.nc.Close()
	// Every survivor's NATS server must forget it (the route's unsubscribe
	// reaches each server in its own time: a server that still has the
	// interest routes a post there, and it times out instead of 410).
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, o := range survivors {
			_, err := o.nc.Request(o.subject(c.prefix, opPing), []byte{wireVersion}, time.Second)
			if !errors.Is(err, nats.ErrNoResponders) {
				return false
			}
		}
		return true
	}, "NATS forgets the killed node's subscription on every survivor's server")

	// Just under DeadAfter: nobody is judged.
	for _, o := range survivors {
		o.live.check(t0.Add(deadAfter - time.Millisecond))
		if lv := o.Liveness(); lv.Declared != 0 || lv.Spared != 0 {
			t.Fatalf("node %s judged before DeadAfter: %+v", o.prefix, lv)
		}
	}
	// The survivors beat just before DeadAfter; c and the stuck node do not.
	beatAll(t0.Add(deadAfter-time.Millisecond), survivors)

	// At DeadAfter: c is dead, the stuck node spared, on both.
	for _, o := range survivors {
		o.live.check(t0.Add(deadAfter))
		if lv := o.Liveness(); lv.Declared != 1 || lv.Spared != 1 {
			t.Fatalf("node %s at DeadAfter: %+v, want 1 declared (the killed node), 1 spared (the stuck one)", o.prefix, lv)
		}
		if !o.knownGone(c.prefix) {
			t.Errorf("node %s does not answer 410 at once for the dead node's ids", o.prefix)
		}
		if err := o.Post(t.Context(), c.prefix+"AAAAAAAAAAA=", []byte("x")); !errors.Is(err, gateway.ErrGone) {
			t.Errorf("post to a dead node's id: %v, want ErrGone", err)
		}
	}
	// Exactly one cleans up: the smallest prefix. Its first try fails (the
	// store is down, say): it tries again at a later check.
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, o := range survivors {
			o.live.check(t0.Add(deadAfter))
		}
		return first.Liveness().Reaped == 1
	}, "the first node cleans up, at the second try")
	// Checks again change nothing.
	for i := range 3 {
		at := t0.Add(deadAfter + time.Duration(i+1)*time.Millisecond)
		beatAll(at, survivors)
		for _, o := range survivors {
			o.live.check(at)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		second.live.mu.Lock()
		defer second.live.mu.Unlock()
		return second.live.peers[c.prefix].reaped
	}, "the second node hears that the first cleaned up")
	if got := r.of(first.prefix); !slices.Equal(got, []string{c.prefix, c.prefix}) {
		t.Errorf("the first node cleaned up %v, want [%s %[2]s] (a failure, then a success)", got, c.prefix)
	}
	if got := r.of(second.prefix); len(got) != 0 {
		t.Errorf("the second node cleaned up %v, want nothing (the first did)", got)
	}

	// The first node dies in turn: the second cleans up after it, alone,
	// and not after c again.
	lastFirst := t0.Add(deadAfter + 3*time.Millisecond)
	first.nc.Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := second.nc.Request(second.subject(first.prefix, opPing), []byte{wireVersion}, time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	}, "NATS forgets the first node's subscription")
	second.live.check(lastFirst.Add(deadAfter))
	testutil.Eventually(t, 10*time.Second, func() bool { return second.Liveness().Reaped == 1 }, "the second node cleans up after the first")
	if got := r.of(second.prefix); !slices.Equal(got, []string{first.prefix}) {
		t.Errorf("the second node cleaned up %v, want [%s]", got, first.prefix)
	}
	if r.total() != 3 {
		t.Errorf("%d clean-ups in all, want 3 (c twice, the first once)", r.total())
	}

	// c beats again (a partition that healed): taken back.
	beatOf(c.prefix, beatAlive)
	testutil.Eventually(t, 10*time.Second, func() bool { return second.Liveness().Revived == 1 }, "the dead node that beats again is taken back")
	if second.knownGone(c.prefix) {
		t.Error("the revived node's ids are still 410 at once")
	}
}

// A beat that is not one is refused and counted; nothing is recorded.
func TestMalformedBeat(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	n, err := Join(t.Context(), Config{URL: ns.ClientURL(), API: "live", BeatInterval: time.Hour, DeadAfter: 2 * time.Hour, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	must(t, n.Serve(nopLocal{}))
	raw, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	bad := [][]byte{nil, {wireVersion}, {9, beatAlive, 'A', 'A', 'A', 'A'}, {wireVersion, 7, 'A', 'A', 'A', 'A'},
		{wireVersion, beatAlive, '!', '!', '!', '!'}, {wireVersion, beatAlive, 'A', 'A', 'A', 'A', 'A'}}
	for _, b := range bad {
		must(t, raw.Publish("switchboard.live.beat", b))
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return n.Refused() == uint64(len(bad)) }, "%d malformed beats refused", len(bad))
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	if len(n.live.peers) != 0 {
		t.Errorf("malformed beats recorded peers: %v", n.live.peers)
	}
}

func TestLivenessConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		beat, dead time.Duration
		ok         bool
	}{
		{0, 0, true},
		{time.Second, 2 * time.Second, true},
		{time.Second, 1999 * time.Millisecond, false},
		{0, time.Second, false},
		{-time.Second, 0, false},
		{0, -time.Second, false},
	} {
		c := Config{URL: "nats://127.0.0.1:4222", BeatInterval: tc.beat, DeadAfter: tc.dead}
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("beat %v, dead after %v: %v, want ok=%v", tc.beat, tc.dead, err, tc.ok)
		}
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestObserverCutOffJudgesNobody: a node that was itself cut off from
// NATS heard no beats meanwhile, so it judges nobody until it has been
// connected again for DeadAfter: a peer silent (and without subscription)
// for longer than DeadAfter by the clock is spared at the first check
// after the observer's reconnection, and declared dead only a DeadAfter
// later.
func TestObserverCutOffJudgesNobody(t *testing.T) {
	t.Parallel()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	url := ns.ClientURL()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	})
	const deadAfter = 2 * time.Hour
	clk := &fakeClock{t: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
	t0 := clk.Now()
	n, err := Join(t.Context(), Config{URL: url, API: "live", BeatInterval: time.Hour, DeadAfter: deadAfter,
		RequestTimeout: 300 * time.Millisecond, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n.clock = clk.Now
	must(t, n.Serve(nopLocal{}))
	t.Cleanup(func() { n.Close(context.Background()) })

	// A peer beats once at t0, then its connection goes (no subscription).
	const peer = "pEeR"
	raw, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	must(t, raw.Publish("switchboard.live.beat", []byte{wireVersion, beatAlive, peer[0], peer[1], peer[2], peer[3]}))
	must(t, raw.Flush())
	testutil.Eventually(t, 10*time.Second, func() bool { return heard(n.live, peer, t0) }, "the peer's beat")
	raw.Close()

	// NATS restarts on the same port: the node is cut off, then reconnects.
	tcp := ns.Addr().String()
	ns.Shutdown()
	ns.WaitForShutdown()
	stopped = true
	testutil.Eventually(t, 10*time.Second, func() bool { return !n.nc.IsConnected() }, "the node notices NATS is gone")
	_, portStr, _ := strings.Cut(tcp, ":")
	p, _ := strconv.Atoi(portStr)
	opts2 := &server.Options{Host: "127.0.0.1", Port: p, NoSigs: true, NoLog: true}
	ns2, err := server.NewServer(opts2)
	if err != nil {
		t.Fatal(err)
	}
	ns2.Start()
	if !ns2.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not restart")
	}
	t.Cleanup(func() { ns2.Shutdown(); ns2.WaitForShutdown() })
	testutil.Eventually(t, 20*time.Second, func() bool { return n.nc.IsConnected() && n.nc.Stats().Reconnects > 0 }, "the node reconnects")

	// By the clock the peer has been silent for 3 DeadAfters, and nobody
	// subscribes to its subjects; but this node has only just come back.
	n.live.check(t0.Add(3 * deadAfter))
	if lv := n.Liveness(); lv.Declared != 0 {
		t.Fatalf("a node just reconnected declared a peer dead: %+v", lv)
	}
	n.live.check(t0.Add(4*deadAfter - time.Millisecond))
	if lv := n.Liveness(); lv.Declared != 0 {
		t.Fatalf("declared dead before DeadAfter since the reconnection: %+v", lv)
	}
	n.live.check(t0.Add(4 * deadAfter))
	if lv := n.Liveness(); lv.Declared != 1 {
		t.Fatalf("a DeadAfter after the reconnection: %+v, want the silent peer declared dead", lv)
	}
}

// TestJoinerHearsTheOthersAtOnce: a node that joins hears the nodes
// already there right away, not a BeatInterval later (an hour here): they
// answer its first beat with one of theirs. A node that dies a moment
// after another joined is judged by it all the same.
func TestJoinerHearsTheOthersAtOnce(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	join := func() *Node {
		n, err := Join(t.Context(), Config{URL: ns.ClientURL(), API: "live", BeatInterval: time.Hour, DeadAfter: 2 * time.Hour, Logger: testutil.DiscardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		must(t, n.Serve(nopLocal{}))
		t.Cleanup(func() { n.Close(context.Background()) })
		return n
	}
	old := join()
	newer := join()
	knows := func(l *liveness, p string) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.peers[p] != nil
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return knows(newer.live, old.prefix) && knows(old.live, newer.prefix)
	}, "the nodes know each other without waiting for a tick")
}
