package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/switchboard-ws/switchboard/chat/auth"
)

// TargetCluster names the target of several nodes (--nodes N, or --url
// with several nodes).
const TargetCluster = "cluster"

// MaxNodes bounds --nodes: every node is a process with its embedded NATS
// on the same machine.
const MaxNodes = 16

// clustered reports whether the run's switchboard target is several nodes.
func (c *Config) clustered() bool { return c.Nodes > 1 || len(c.URLs) > 1 }

// finishNodes checks the flags of several nodes and of the spawned nodes'
// store, and splits a --url list.
func (c *Config) finishNodes(stderr io.Writer) error {
	bad := func(format string, args ...any) error { return usageError(stderr, format, args...) }
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		return bad("--nodes must be between 1 and %d", MaxNodes)
	}
	if c.URL != "" {
		c.URLs = nil
		for _, u := range strings.Split(c.URL, ",") {
			u = strings.TrimSpace(u)
			if !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
				return bad("--url %q: want ws://HOST:PORT/STAGE, or several separated by commas", u)
			}
			c.URLs = append(c.URLs, u)
		}
		if c.set["nodes"] {
			return bad("--nodes spawns the nodes; with --url, list the running nodes' URLs separated by commas")
		}
		if len(c.URLs) > MaxNodes {
			return bad("--url: at most %d nodes", MaxNodes)
		}
		c.URL = c.URLs[0]
		if len(c.URLs) == 1 {
			c.URLs = nil
		}
	}
	switch c.Store {
	case StoreSQLite, StorePostgres, StoreDynamoDB:
	default:
		return bad("--store %q: want sqlite, postgres or dynamodb", c.Store)
	}
	if c.set["postgres-url"] && c.Store != StorePostgres {
		return bad("--postgres-url goes with --store postgres")
	}
	if (c.set["dynamodb-endpoint"] || c.set["table"]) && c.Store != StoreDynamoDB {
		return bad("--dynamodb-endpoint and --table go with --store dynamodb")
	}
	if c.Store == StorePostgres && c.PostgresURL == "" {
		return bad("--store postgres needs --postgres-url (or $%s)", envPostgresURL)
	}
	if c.Store == StoreDynamoDB && c.DynamoDBEndpoint == "" {
		return bad("--store dynamodb needs --dynamodb-endpoint (DynamoDB Local, e.g. http://127.0.0.1:8000)")
	}
	if c.Store != StoreSQLite && c.URL != "" && c.Fill != FillStore {
		return bad("--store with --url only serves --fill store (the running nodes have their own store)")
	}
	if c.Nodes > 1 && c.Store == StoreSQLite {
		return bad("--nodes %d needs a store the nodes share: --store postgres (with --postgres-url) or --store dynamodb (with --dynamodb-endpoint); switchboard dev refuses a cluster on its embedded sqlite", c.Nodes)
	}
	if c.clustered() && c.Target == TargetBaseline {
		return bad("--target baseline is one process; --nodes and several --url are for switchboard")
	}
	if c.Profile != "" && (c.Nodes > 1 || c.Store != StoreSQLite) {
		return bad("--profile profiles a server spawned as `bench __devserver` on the embedded store; the nodes of --nodes and --store are `switchboard dev` processes (profile them by hand)")
	}
	if c.BesideOneNode {
		switch {
		case c.Scenario != Fanout:
			return bad("--beside-one-node is for fanout")
		case !c.clustered():
			return bad("--beside-one-node needs several nodes: --nodes N or several --url")
		case c.Compare:
			return bad("--beside-one-node is its own comparison (spread room / one-node room); leave out --compare")
		case c.set["messages"] && c.Messages < 2:
			return bad("--beside-one-node alternates the messages between two rooms: send at least 2")
		}
	}
	switch c.Fill {
	case FillJoin:
	case FillStore:
		if c.Scenario != Fanout && c.Scenario != Roundtrip {
			return bad("--fill is for fanout and roundtrip")
		}
		if c.Store == StoreSQLite {
			return bad("--fill store writes the memberships into the nodes' store: give --store postgres or dynamodb (the embedded sqlite store belongs to its process)")
		}
		if c.Compare && !c.clustered() {
			return bad("--fill store with --compare: the baseline has no rooms; use --fill store with --nodes")
		}
	default:
		return bad("--fill %q: want join or store", c.Fill)
	}
	return nil
}

// storeArgs are the `switchboard dev` flags of the spawned nodes' store.
func (c *Config) storeArgs() []string {
	switch c.Store {
	case StorePostgres:
		return []string{"--store", StorePostgres, "--postgres-url", c.PostgresURL}
	case StoreDynamoDB:
		return []string{"--store", StoreDynamoDB, "--dynamodb-endpoint", c.DynamoDBEndpoint, "--table", c.Table} // ensureTable made it
	}
	return nil
}

// devArgs is the command line of one spawned `switchboard dev` node (the
// connect rate limit as --connect-rate asks, the chat's rate limits off:
// the bench measures capacity) with extra appended.
func (c *Config) devArgs(dir string, noRateLimits bool, extra ...string) []string {
	args := []string{"dev", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn",
		"--connect-rate", strconv.FormatFloat(c.ConnectRate, 'f', -1, 64)}
	if noRateLimits {
		args = append(args, "--no-rate-limits")
	}
	args = append(args, c.storeArgs()...)
	return append(args, extra...)
}

// clusterArgs are node i's cluster flags: an embedded NATS whose routes
// listen on routes[i], with the others as peers.
func clusterArgs(routes []string, i int) []string {
	var peers []string
	for j, r := range routes {
		if j != i {
			peers = append(peers, r)
		}
	}
	return []string{"--cluster-listen", routes[i], "--cluster-peers", strings.Join(peers, ",")}
}

// freeLoopbackPorts returns n loopback addresses with ports free now.
func freeLoopbackPorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port for a node's routes: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// spawnCluster starts cfg.Nodes `switchboard dev` processes (this binary)
// joined in one cluster: each runs an embedded NATS routed to the others
// on loopback (a random route secret in SWITCHBOARD_CLUSTER_SECRET), all
// on the shared store and with one data directory, whose dev secret signs
// the tokens every node verifies. They start at once: each waits for a
// route to a peer before it serves.
func spawnCluster(ctx context.Context, cfg *Config, stderr io.Writer) (*Target, error) {
	if cfg.Exe == "" || len(cfg.ExeArgs) != 1 || cfg.ExeArgs[0] != "bench" {
		return nil, errors.New("--nodes spawns `switchboard dev`: run it from the switchboard binary")
	}
	dir, err := os.MkdirTemp("", "switchboard-bench-cluster-")
	if err != nil {
		return nil, err
	}
	secret, err := auth.LoadOrCreateDevSecret(dir) // before the nodes, so that they share it
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := ensureTable(ctx, cfg); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	routes, err := freeLoopbackPorts(cfg.Nodes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := []string{"SWITCHBOARD_CLUSTER_SECRET=" + randHex(16)}
	noRateLimits := devHasFlag(cfg.Exe, "no-rate-limits")
	nodes := make([]*Target, cfg.Nodes)
	errs := make([]error, cfg.Nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := cfg.devArgs(dir, noRateLimits, clusterArgs(routes, i)...)
			t, err := startProcess(ctx, cfg, args, env, "WebSocket:", dir, stderr)
			if err != nil {
				errs[i] = fmt.Errorf("node %d: %w", i+1, err)
				return
			}
			t.Name = TargetSwitchboard
			t.Secret = secret
			t.How = fmt.Sprintf("node %d (pid %d, routes %s)", i+1, t.PID, routes[i])
			nodes[i] = t
		}()
	}
	wg.Wait()
	ct := &Target{Name: TargetCluster, Secret: secret, nodes: nodes}
	ct.stop = func() error {
		ct.stopNodes()
		return os.RemoveAll(dir)
	}
	if err := errors.Join(errs...); err != nil {
		ct.Stop()
		return nil, err
	}
	ct.URL = nodes[0].URL
	ct.How = fmt.Sprintf("%d spawned `switchboard dev --store %s --cluster-listen … --cluster-peers …` nodes (embedded NATS; pids %s), connect rate limit %s, clients round robin",
		cfg.Nodes, cfg.Store, ct.pids(), strconv.FormatFloat(cfg.ConnectRate, 'f', -1, 64))
	return ct, nil
}

// stopNodes stops the nodes at once (each drains its connections).
func (t *Target) stopNodes() {
	var wg sync.WaitGroup
	for _, n := range t.nodes {
		if n != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Stop()
			}()
		}
	}
	wg.Wait()
}

func (t *Target) pids() string {
	var p []string
	for _, n := range t.nodes {
		p = append(p, strconv.Itoa(n.PID))
	}
	return strings.Join(p, ", ")
}

// urls are the addresses clients dial: the nodes', round robin, or the
// one server's.
func (t *Target) urls() []string {
	if len(t.nodes) == 0 {
		return []string{t.URL}
	}
	out := make([]string, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = n.URL
	}
	return out
}

// runningCluster is the target of --url with several nodes.
func runningCluster(cfg *Config, secret []byte) *Target {
	ct := &Target{Name: TargetCluster, URL: cfg.URLs[0], Secret: secret}
	for i, u := range cfg.URLs {
		ct.nodes = append(ct.nodes, &Target{Name: TargetSwitchboard, URL: u, Secret: secret, How: fmt.Sprintf("node %d at %s", i+1, u)})
	}
	ct.How = fmt.Sprintf("a running cluster of %d nodes (%s), clients round robin; memory from each node's GET /metrics", len(cfg.URLs), strings.Join(cfg.URLs, ", "))
	return ct
}

// sumStatus adds the nodes' memory figures.
func sumStatus(sts []*procStatus) *procStatus {
	var sum *procStatus
	for _, s := range sts {
		if s == nil {
			return nil // a node not measured: no total
		}
		if sum == nil {
			sum = &procStatus{}
		}
		sum.VmRSS += s.VmRSS
		sum.RssAnon += s.RssAnon
		sum.RssFile += s.RssFile
		sum.VmHWM += s.VmHWM
		sum.Threads += s.Threads
		sum.At = max(sum.At, s.At)
		sum.HeapInuse += s.HeapInuse
		sum.StackInuse += s.StackInuse
		sum.Goroutines += s.Goroutines
		sum.FromMetrics = sum.FromMetrics || s.FromMetrics
	}
	return sum
}

// nodeMems reads each node's memory (nil without nodes).
func (t *Target) nodeMems() []*procStatus {
	if len(t.nodes) == 0 {
		return nil
	}
	out := make([]*procStatus, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = n.mem()
	}
	return out
}

// NodeMem is one node's memory before and after its connections.
type NodeMem struct {
	Node   int         `json:"node"` // 1-based
	URL    string      `json:"url"`
	PID    int         `json:"pid,omitempty"`
	Conns  int         `json:"conns"`  // connections it held (receivers, or connect/idle connections)
	Before *procStatus `json:"before"` // before they connected
	After  *procStatus `json:"after"`  // after they connected (and joined, or were held)
}

// nodeMemsOf pairs the nodes' figures; conns may be nil (unknown).
func (t *Target) nodeMemsOf(before, after []*procStatus, conns []int) []NodeMem {
	var out []NodeMem
	for i, n := range t.nodes {
		m := NodeMem{Node: i + 1, URL: n.URL, PID: n.PID}
		if i < len(before) {
			m.Before = before[i]
		}
		if i < len(after) {
			m.After = after[i]
		}
		if i < len(conns) {
			m.Conns = conns[i]
		}
		out = append(out, m)
	}
	return out
}

// mergePerURL adds the workers' per-node counts.
func mergePerURL(evs []event, nodes int) []int {
	if nodes < 2 {
		return nil
	}
	out := make([]int, nodes)
	for _, ev := range evs {
		if ev.Dial == nil {
			continue
		}
		for i, v := range ev.Dial.PerURL {
			if i < nodes {
				out[i] += v
			}
		}
	}
	return out
}
