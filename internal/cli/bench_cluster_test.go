package cli

import (
	"context"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/bench"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestBenchSpawnsClusterNodes: `switchboard bench fanout --nodes 3
// --beside-one-node --fill store` on a real PostgreSQL starts three
// `switchboard dev` nodes (this test binary as switchboard) joined by
// their embedded NATS, spreads one room's receivers over them round robin
// beside a room of as many on node 1, and every message reaches every
// member of its room: through the cluster for the spread room. No timing
// is asserted.
func TestBenchSpawnsClusterNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three switchboard dev processes")
	}
	pg := testutil.Postgres(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAsSwitchboard, "1") // the children run as switchboard
	cfg, err := bench.ParseArgs([]string{"fanout", "--nodes", "3", "--beside-one-node", "--fill", "store",
		"--store", "postgres", "--postgres-url", pg, "--conns", "30", "--users", "5", "--messages", "4",
		"--no-progress", "--timeout", "20s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Exe, cfg.ExeArgs = exe, []string{"bench"}
	rep, err := bench.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Target != bench.TargetSpread || rep.Results[1].Target != bench.TargetOneNode {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		f := r.Fanout
		if len(r.Problems) > 0 {
			t.Errorf("%s: problems %v", r.Target, r.Problems)
		}
		// Two messages to each room, 30 members each (and the sender).
		if f.Connected != 30 || f.Messages != 2 || f.Expected != 60 || f.Delivered != 60 || f.Incomplete != 0 || f.Acked != 4 {
			t.Errorf("%s: connected %d messages %d expected %d delivered %d incomplete %d acked %d",
				r.Target, f.Connected, f.Messages, f.Expected, f.Delivered, f.Incomplete, f.Acked)
		}
	}
	spread := rep.Results[0]
	var conns []int
	for _, n := range spread.Nodes {
		conns = append(conns, n.Conns)
		if n.Before == nil || n.After == nil || n.After.VmRSS <= 0 {
			t.Errorf("node %d (pid %d): memory not read: %+v", n.Node, n.PID, n.After)
		}
	}
	if !slices.Equal(conns, []int{10, 10, 10}) {
		t.Errorf("receivers per node %v, want 10 on each of the three", conns)
	}
	ratios := 0
	for _, row := range rep.Summary {
		if row.Ratio != nil {
			ratios++
		}
	}
	if ratios == 0 {
		t.Error("no spread/one-node ratios in the summary")
	}
}
