package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/bench/baseline"
)

// TestParseArgsNodes: the flags of several nodes and of the spawned nodes'
// store are checked before anything starts.
func TestParseArgsNodes(t *testing.T) {
	t.Setenv(envPostgresURL, "")
	pg := []string{"--store", "postgres", "--postgres-url", "postgres://127.0.0.1:1/x"}
	with := func(args ...string) []string { return append(args, pg...) }
	bad := [][]string{
		{"fanout", "--nodes", "3"}, // a cluster on the embedded sqlite store
		{"fanout", "--nodes", "0"},
		{"fanout", "--nodes", "17"},
		{"fanout", "--nodes", "3", "--store", "postgres"}, // no --postgres-url
		{"fanout", "--store", "dynamodb"},                 // no endpoint
		{"fanout", "--store", "mysql"},
		{"fanout", "--postgres-url", "postgres://x"},          // without --store postgres
		{"fanout", "--dynamodb-endpoint", "http://127.0.0.1"}, // without --store dynamodb
		{"fanout", "--fill", "store"},                         // the sqlite store belongs to its process
		{"fanout", "--fill", "copy"},
		with("connect", "--nodes", "3", "--fill", "store"),
		with("fanout", "--nodes", "3", "--profile", "dir"),
		with("fanout", "--nodes", "3", "--target", "baseline"),
		with("connect", "--nodes", "3", "--conns", "70000"),              // 23,334 per node
		with("connect", "--nodes", "3", "--conns", "30000", "--compare"), // the one-node run holds them all
		{"fanout", "--beside-one-node"},                                  // one node
		with("fanout", "--nodes", "3", "--beside-one-node", "--compare"),
		with("connect", "--nodes", "3", "--beside-one-node"),
		with("fanout", "--nodes", "3", "--beside-one-node", "--messages", "1"),
		with("fanout", "--nodes", "3", "--beside-one-node", "--conns", "15000"), // node 1: 5,000 + 15,000
		{"fanout", "--url", "ws://127.0.0.1:1/dev,http://127.0.0.1:2/dev", "--data", "x"},
		{"fanout", "--url", "ws://127.0.0.1:1/dev,ws://127.0.0.1:2/dev", "--data", "x", "--nodes", "2"},
		{"fanout", "--url", "ws://127.0.0.1:1/dev,ws://127.0.0.1:2/dev", "--data", "x", "--compare"},
		{"fanout", "--url", "ws://127.0.0.1:1/dev", "--data", "x", "--store", "postgres", "--postgres-url", "postgres://x"}, // --store with --url only for --fill store
	}
	for _, args := range bad {
		var errOut bytes.Buffer
		_, err := ParseArgs(args, &errOut)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err %v, want ErrUsage", args, err)
		}
		if errOut.Len() == 0 {
			t.Errorf("%q: nothing printed", args)
		}
	}

	c, err := ParseArgs(with("connect", "--nodes", "3", "--conns", "45000"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.targets(), []string{TargetCluster}) || !c.clustered() {
		t.Errorf("--nodes 3: targets %v", c.targets())
	}
	c, err = ParseArgs(with("fanout", "--nodes", "3", "--conns", "10000", "--compare", "--fill", "store"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.targets(), []string{TargetCluster, TargetSwitchboard}) {
		t.Errorf("--nodes 3 --compare: targets %v, want the cluster, then one node", c.targets())
	}
	if _, err := ParseArgs(with("fanout", "--nodes", "3", "--conns", "10000", "--beside-one-node"), io.Discard); err != nil {
		t.Errorf("--beside-one-node with 10,000: %v", err)
	}
	c, err = ParseArgs([]string{"fanout", "--url", "ws://127.0.0.1:1/dev, ws://127.0.0.1:2/dev,ws://127.0.0.1:3/dev", "--data", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URLs) != 3 || c.URL != "ws://127.0.0.1:1/dev" || c.URLs[1] != "ws://127.0.0.1:2/dev" || !c.clustered() {
		t.Errorf("--url list: URL %q URLs %q", c.URL, c.URLs)
	}
	// Past 10,000 receivers, 100 connections per user by default: the
	// chat refuses a user's 201st.
	for _, tc := range []struct {
		args  []string
		users int
	}{
		{[]string{"fanout", "--conns", "1000"}, 100},
		{[]string{"fanout", "--conns", "50"}, 50},
		{with("fanout", "--nodes", "3", "--conns", "45000"), 450},
		{with("fanout", "--nodes", "3", "--conns", "10000", "--beside-one-node"), 200},
	} {
		c, err := ParseArgs(tc.args, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if c.Users != tc.users {
			t.Errorf("%q: users %d, want %d", tc.args, c.Users, tc.users)
		}
	}
	t.Setenv(envPostgresURL, "postgres://from-env/x")
	c, err = ParseArgs([]string{"fanout", "--nodes", "2", "--store", "postgres"}, io.Discard)
	if err != nil || c.PostgresURL != "postgres://from-env/x" {
		t.Errorf("--postgres-url from $%s: %v %+v", envPostgresURL, err, c)
	}
}

// TestNodeArgs: each spawned node routes to every other, on the shared
// store.
func TestNodeArgs(t *testing.T) {
	routes := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	got := strings.Join(clusterArgs(routes, 1), " ")
	if got != "--cluster-listen 127.0.0.1:2 --cluster-peers 127.0.0.1:1,127.0.0.1:3" {
		t.Errorf("node 2: %s", got)
	}
	c := &Config{Store: StorePostgres, PostgresURL: "postgres://db", ConnectRate: -1}
	args := strings.Join(c.devArgs("/d", true, "--x"), " ")
	for _, want := range []string{"dev ", "--data /d", "--connect-rate -1", "--no-rate-limits", "--store postgres --postgres-url postgres://db", " --x"} {
		if !strings.Contains(args, want) {
			t.Errorf("dev args %q lack %q", args, want)
		}
	}
	c = &Config{Store: StoreDynamoDB, DynamoDBEndpoint: "http://127.0.0.1:8000", Table: "t"}
	if args := strings.Join(c.storeArgs(), " "); args != "--store dynamodb --dynamodb-endpoint http://127.0.0.1:8000 --table t" {
		t.Errorf("dynamodb: %s", args)
	}
	ports, err := freeLoopbackPorts(3)
	if err != nil || len(ports) != 3 || ports[0] == ports[1] {
		t.Errorf("free ports: %v %v", ports, err)
	}
	if got := nodeCounts(10, 3); !slices.Equal(got, []int{4, 3, 3}) {
		t.Errorf("nodeCounts(10, 3) = %v", got)
	}
	sum := sumStatus([]*procStatus{{VmRSS: 1, HeapInuse: 2, Goroutines: 3}, {VmRSS: 10, HeapInuse: 20, Goroutines: 30, FromMetrics: true}})
	if sum.VmRSS != 11 || sum.HeapInuse != 22 || sum.Goroutines != 33 || !sum.FromMetrics {
		t.Errorf("sum: %+v", sum)
	}
	if sumStatus([]*procStatus{{VmRSS: 1}, nil}) != nil {
		t.Error("a total with a node not measured")
	}
}

// TestRoundRobinOverNodes: the connections of a run with several nodes
// are spread over them round robin by global index, across workers, and
// counted per node. The nodes here are two baseline servers.
func TestRoundRobinOverNodes(t *testing.T) {
	var nodes []*Target
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b := baseline.New()
		go b.Serve(ln)
		t.Cleanup(func() { b.Close() })
		nodes = append(nodes, NewTarget(TargetBaseline, "ws://"+ln.Addr().String()+"/dev", nil, 0, "baseline"))
	}
	ct := &Target{Name: TargetBaseline, URL: nodes[0].URL, nodes: nodes}
	cfg := parse(t, "connect", "--conns", "41", "--concurrency", "4", "--target", "baseline", "--per-worker", "30")
	cfg.Targets = []*Target{ct}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Exe, cfg.ExeArgs = exe, nil // two worker processes: this test binary, global offsets 0 and 21
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Connect.OK != 41 || len(r.Problems) > 0 {
		t.Fatalf("connect: %+v %v", r.Connect, r.Problems)
	}
	var conns []int
	for _, n := range r.Nodes {
		conns = append(conns, n.Conns)
	}
	if !slices.Equal(conns, nodeCounts(41, 2)) {
		t.Errorf("per node %v, want %v", conns, nodeCounts(41, 2))
	}
}

// TestSummaryRatioOfTwoTargets: with two targets, each row's ratio is the
// first's over the second's, whatever they are called.
func TestSummaryRatioOfTwoTargets(t *testing.T) {
	rep := &Report{}
	for _, r := range []struct {
		target string
		v      float64
	}{{TargetSpread, 120}, {TargetOneNode, 100}, {TargetSpread, 130}, {TargetOneNode, 100}} {
		rep.Results = append(rep.Results, &Result{Target: r.target, Metrics: []Metric{{Name: "time to last delivery p50", Unit: "ms", Value: r.v, Better: "lower"}}})
	}
	rep.summarize()
	if len(rep.Summary) != 1 || rep.Summary[0].Ratio == nil || *rep.Summary[0].Ratio != 1.25 {
		t.Fatalf("summary: %+v", rep.Summary)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	if !strings.Contains(out.String(), "spread/one-node") || !strings.Contains(out.String(), "1.25x") {
		t.Errorf("table:\n%s", out.String())
	}
}

// nodeCounts is how many of n connections, spread round robin from
// global index 0, go to each of nodes nodes.
func nodeCounts(n, nodes int) []int {
	out := make([]int, nodes)
	for i := range out {
		out[i] = n / nodes
		if i < n%nodes {
			out[i]++
		}
	}
	return out
}

// lateLister lists its connections only from the second call on, as an
// eventually consistent index (DynamoDB's GSIs) may: a fault DynamoDB
// Local does not show on demand.
type lateLister struct {
	mu     sync.Mutex
	calls  int
	conns  []store.Connection
	joined []store.Membership
}

func (l *lateLister) TenantConnections(context.Context, string) ([]store.Connection, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls == 1 {
		return l.conns[:1], nil
	}
	return l.conns, nil
}

func (l *lateLister) JoinRoom(_ context.Context, m store.Membership, _ int) (store.Join, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.joined = append(l.joined, m)
	return store.Join{Joined: true, First: true}, nil
}

// TestFillRoomWaitsForTheStore: --fill store puts every connection the
// store lists in the room, except the skipped ones (another room's), and
// asks again until it lists as many as connected.
func TestFillRoomWaitsForTheStore(t *testing.T) {
	l := &lateLister{conns: []store.Connection{
		{ConnectionID: "a", UserID: "u1", Username: "U1"}, {ConnectionID: "b", UserID: "u2"}, {ConnectionID: "c", UserID: "u3"},
	}}
	filled, err := fillRoom(context.Background(), l, "t", "room", map[string]bool{"c": true}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(filled) != 2 || !filled["a"] || !filled["b"] || l.calls < 2 {
		t.Fatalf("filled %v after %d listings", filled, l.calls)
	}
	if len(l.joined) != 2 || l.joined[0].RoomID != "room" || l.joined[0].TenantID != "t" {
		t.Errorf("joined %+v", l.joined)
	}
}

// TestLogTails: a run with problems carries what the spawned nodes
// logged.
func TestLogTails(t *testing.T) {
	n1, n2 := &Target{PID: 11, stderr: &tailBuffer{}}, &Target{PID: 12, stderr: &tailBuffer{}}
	n2.stderr.Write([]byte("level=WARN msg=\"fan-out batch failed\"\n"))
	tails := (&Target{Name: TargetCluster, nodes: []*Target{n1, n2}}).logTails()
	if len(tails) != 1 || !strings.Contains(tails[0], "node 2 (pid 12)") || !strings.Contains(tails[0], "fan-out batch failed") {
		t.Errorf("tails: %q", tails)
	}
}
