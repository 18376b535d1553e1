package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/bench/baseline"
)

// TestMain lets the bench re-execute this test binary as its worker,
// baseline and dev server child processes.
func TestMain(m *testing.M) {
	if ok, code := ChildMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	bad := [][]string{
		{},
		{"nosuch"},
		{"fanout", "extra"},
		{"fanout", "--conns", "0"},
		{"fanout", "--conns", "-5"},
		{"connect", "--concurrency", "0"},
		{"fanout", "--url", "ws://127.0.0.1:1/dev"},                  // no --data
		{"fanout", "--url", "http://127.0.0.1:1/dev", "--data", "x"}, // not ws://
		{"fanout", "--url", "ws://127.0.0.1:1/dev", "--data", "x", "--spawn"},
		{"fanout", "--data", "x"},
		{"fanout", "--pid", "12"},
		{"fanout", "--target", "nginx"},
		{"fanout", "--compare", "--target", "baseline"},
		{"roundtrip", "--members", "1"},
		{"roundtrip", "--rate", "0"},
		{"fanout", "--members", "10"},
		{"connect", "--per-worker", "25000"},
		{"fanout", "--size", "5000"},
		{"fanout", "--conns", "10", "--users", "11"},
		{"fanout", "--tenants", "3"},
		{"idle", "--duration", "-1s"},
		{"connect", "--conns", "50000"}, // one server process cannot hold them
		{"fanout", "--repeat", "0"},
		{"fanout", "--nosuchflag"},
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
	if _, err := ParseArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}

	c, err := ParseArgs([]string{"roundtrip", "--rate", "200", "--duration", "3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Messages != 600 || c.Members != 100 || c.receivers() != 99 || c.Users != 99 || c.Inflight != 0 {
		t.Errorf("roundtrip defaults: %+v", c)
	}
	c, err = ParseArgs([]string{"--conns", "20000", "fanout"}, io.Discard) // scenario after the flags
	if err == nil {
		t.Errorf("20,000 receivers and a sender fit in one server process? %+v", c)
	}
	c, err = ParseArgs([]string{"fanout", "--conns", "300", "--per-worker", "100"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n, inProc := c.workerCount(300); n != 3 || inProc {
		t.Errorf("300 conns, 100 per worker: %d workers, in process %v", n, inProc)
	}
	if c.Scenario != Fanout || c.Messages != 100 || c.Rate != 0 || c.Inflight != 16 || c.Users != 100 {
		t.Errorf("fanout defaults: %+v", c)
	}
	c, err = ParseArgs([]string{"idle", "--conns", "40"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tenants != 40 || c.Users != 40 || c.Duration != 30*time.Second {
		t.Errorf("idle defaults: %+v", c)
	}
	if n, inProc := c.workerCount(40); n != 1 || !inProc {
		t.Errorf("40 conns: %d workers, in process %v", n, inProc)
	}
	specs := splitSpecs(workerSpec{Concurrency: 10}, 10, 3)
	if specs[0].Conns != 4 || specs[1].Conns != 3 || specs[2].Offset != 7 || specs[2].Concurrency != 4 {
		t.Errorf("split: %+v", specs)
	}
}

func TestClassify(t *testing.T) {
	if got := classifyErr(errors.New("x"), 429); got != "HTTP 429" {
		t.Errorf("429: %q", got)
	}
	_, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	if err == nil {
		t.Skip("something listens on port 1")
	}
	if got := classifyErr(err, 0); got != "connection refused" {
		t.Errorf("refused: %q", got)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// servers starts an in-process dev stack (connect rate limit off) and an
// in-process baseline.
func servers(t *testing.T) (sb, bl *Target) {
	t.Helper()
	st, err := devstack.New(devstack.Options{DataDir: t.TempDir(), SweepInterval: time.Hour, Logger: quiet(),
		Limits: gateway.Limits{ConnectRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := baseline.New()
	go b.Serve(ln)
	t.Cleanup(func() { b.Close() })
	return NewTarget(TargetSwitchboard, st.URL(), st.Secret, 0, "in-process dev stack"),
		NewTarget(TargetBaseline, "ws://"+ln.Addr().String()+"/dev", nil, 0, "in-process baseline")
}

func metric(t *testing.T, r *Result, name string) float64 {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("%s: no metric %q", r.Target, name)
	return 0
}

func parse(t *testing.T, args ...string) *Config {
	t.Helper()
	c, err := ParseArgs(append(args, "--no-progress", "--timeout", "20s"), io.Discard)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return c
}

// TestScenariosEndToEnd runs every scenario small against an in-process
// dev stack and an in-process baseline, and checks that the counts add up.
// No timing is asserted.
func TestScenariosEndToEnd(t *testing.T) {
	t.Parallel() // beside TestCompareWithChildren: both mostly wait
	sb, bl := servers(t)
	ctx := context.Background()
	for _, tc := range []struct {
		args  []string
		check func(t *testing.T, r *Result)
	}{
		{[]string{"fanout", "--conns", "50", "--messages", "5", "--users", "10"}, func(t *testing.T, r *Result) {
			f := r.Fanout
			if f.Connected != 50 || f.Expected != 250 || f.Delivered != 250 || f.Acked != 5 || f.Incomplete != 0 || f.Dropped != 0 {
				t.Errorf("%s fanout: %+v", r.Target, f)
			}
			if f.Latency.Count != 250 || f.Latency.P50 <= 0 || f.TimeToLast.Count != 5 || f.DeliveriesPerSec <= 0 || f.Ack.Count != 5 {
				t.Errorf("%s fanout figures: latency %+v ttl %+v ack %+v", r.Target, f.Latency, f.TimeToLast, f.Ack)
			}
			if len(f.TimeToLastEach) != 5 {
				t.Errorf("%s time to last each: %v", r.Target, f.TimeToLastEach)
			}
		}},
		{[]string{"roundtrip", "--members", "20", "--rate", "50", "--duration", "1s"}, func(t *testing.T, r *Result) {
			f := r.Fanout
			if f.Connected != 19 || f.Messages != 50 || f.Acked != 50 || f.Delivered != 50*19 || f.Ack.Count != 50 {
				t.Errorf("%s roundtrip: %+v", r.Target, f)
			}
			if metric(t, r, "ack latency p99") <= 0 {
				t.Errorf("%s: no ack latency", r.Target)
			}
		}},
		{[]string{"connect", "--conns", "50", "--concurrency", "8"}, func(t *testing.T, r *Result) {
			c := r.Connect
			if c.OK != 50 || c.Failed != 0 || len(c.Failures) != 0 || c.Handshake.Count != 50 || c.PerSecond <= 0 {
				t.Errorf("%s connect: %+v", r.Target, c)
			}
		}},
		{[]string{"idle", "--conns", "50", "--duration", "1s"}, func(t *testing.T, r *Result) {
			if r.Connect.OK != 50 || r.Idle == nil || r.Idle.Dropped != 0 || r.Idle.HoldSeconds < 1 {
				t.Fatalf("%s idle: %+v %+v", r.Target, r.Connect, r.Idle)
			}
			// Without a process id, Switchboard's memory comes from its
			// metrics endpoint; the baseline has none.
			switch after := r.Idle.MemAfter; r.Target {
			case TargetSwitchboard:
				if after == nil || !after.FromMetrics || after.VmRSS <= 0 || after.HeapInuse <= 0 || after.StackInuse <= 0 || after.Goroutines <= 0 {
					t.Errorf("switchboard memory after the hold: %+v", after)
				}
				if r.Idle.MemBefore == nil || r.Idle.MemBefore.HeapInuse <= 0 {
					t.Errorf("switchboard memory before: %+v", r.Idle.MemBefore)
				}
				metric(t, r, "server user memory (HeapInuse+StackInuse) per connection, after the hold")
				// Idle readers are parked (gateway/park.go): few goroutines
				// per connection, but the figure is reported.
				metric(t, r, "server goroutines per connection")
			case TargetBaseline:
				if after != nil {
					t.Errorf("baseline memory without a process id: %+v", after)
				}
			}
		}},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			for _, target := range []*Target{sb, bl} {
				cfg := parse(t, tc.args...)
				cfg.Targets = []*Target{target}
				cfg.Target = target.Name
				rep, err := Run(ctx, cfg, io.Discard)
				if err != nil {
					t.Fatalf("%s: %v", target.Name, err)
				}
				if len(rep.Results) != 1 {
					t.Fatalf("%d results", len(rep.Results))
				}
				r := rep.Results[0]
				if len(r.Problems) > 0 {
					t.Errorf("%s: problems: %v", target.Name, r.Problems)
				}
				tc.check(t, r)
				var out bytes.Buffer
				rep.WriteTable(&out)
				if !strings.Contains(out.String(), "metric") {
					t.Errorf("table:\n%s", out.String())
				}
			}
		})
	}
}

// TestCompareWithChildren runs fanout --compare with everything in child
// processes (this test binary re-executed): the dev server, the baseline
// and two workers; then checks the report directory.
func TestCompareWithChildren(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := parse(t, "fanout", "--compare", "--conns", "30", "--messages", "4", "--workers", "2", "--users", "5",
		"--report", dir, "--label", "fan", "--json")
	cfg.Exe, cfg.ExeArgs = exe, nil
	var out bytes.Buffer
	if err := RunAndPrint(context.Background(), cfg, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if len(rep.Results) != 2 || rep.Results[0].Target != TargetSwitchboard || rep.Results[1].Target != TargetBaseline {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		f := r.Fanout
		if f.Workers != 2 || f.Connected != 30 || f.Delivered != 120 || len(r.Problems) > 0 {
			t.Errorf("%s: workers %d connected %d delivered %d problems %v", r.Target, f.Workers, f.Connected, f.Delivered, r.Problems)
		}
		if f.MemBefore == nil || f.MemAfter == nil || f.MemAfter.VmRSS <= 0 {
			t.Errorf("%s: spawned server's memory not read: %+v", r.Target, f.MemAfter)
		}
	}
	ratioRows := 0
	for _, row := range rep.Summary {
		if row.Ratio != nil {
			ratioRows++
		}
	}
	if ratioRows == 0 {
		t.Error("no ratios in the summary")
	}
	for _, name := range []string{"fan.json", "fan-latency.png", "fan-throughput.png", "fan-time-to-last.png"} {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			t.Errorf("report: %v", err)
			continue
		}
		if strings.HasSuffix(name, ".png") {
			if _, err := png.Decode(f); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		f.Close()
	}
}

func TestMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/dev":             "http://127.0.0.1:8080/metrics",
		"wss://example.com/prod?token=x#frag": "https://example.com/metrics",
	} {
		if got, err := metricsURL(in); err != nil || got != want {
			t.Errorf("metricsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := metricsURL("http://127.0.0.1/dev"); err == nil {
		t.Error("metricsURL of an http URL succeeded")
	}
}
