package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/internal/bench/hist"
)

// Result is one scenario run against one target.
type Result struct {
	Target   string         `json:"target"`
	How      string         `json:"how"`
	Run      int            `json:"run"`
	Metrics  []Metric       `json:"metrics"`
	Connect  *ConnectResult `json:"connect,omitempty"`
	Fanout   *FanoutResult  `json:"fanout,omitempty"`
	Idle     *IdleResult    `json:"idle,omitempty"`
	Nodes    []NodeMem      `json:"nodes,omitempty"` // several nodes: each one's memory and connections
	Problems []string       `json:"problems,omitempty"`
	Notes    []string       `json:"notes,omitempty"`
}

// Metric is one figure of a result.
type Metric struct {
	Name   string  `json:"name"`
	Unit   string  `json:"unit,omitempty"`
	Value  float64 `json:"value"`
	Better string  `json:"better,omitempty"` // lower or higher
}

// LatencyMS is a latency summary in milliseconds.
type LatencyMS struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func latencyMS(h *hist.Histogram) LatencyMS {
	if h == nil {
		return LatencyMS{}
	}
	s := h.Summarize()
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return LatencyMS{Count: s.Count, Mean: s.Mean / 1e6, P50: ms(s.P50), P90: ms(s.P90), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max)}
}

// ConnectResult is what connect (and the connecting part of idle) found.
type ConnectResult struct {
	Attempted  int             `json:"attempted"`
	OK         int             `json:"ok"`
	Failed     int             `json:"failed"`
	Failures   map[string]int  `json:"failures"`
	Seconds    float64         `json:"seconds"` // first dial to last handshake
	PerSecond  float64         `json:"perSecond"`
	Handshake  LatencyMS       `json:"handshakeMs"`
	Series     []float64       `json:"series"` // connects/s per bin
	BinSeconds float64         `json:"binSeconds"`
	Workers    int             `json:"workers"`
	MemBefore  *procStatus     `json:"memBefore,omitempty"`
	MemAfter   *procStatus     `json:"memAfter,omitempty"`
	Hist       *hist.Histogram `json:"handshakeHist"`
}

// FanoutResult is what fanout and roundtrip found.
type FanoutResult struct {
	Receivers       int            `json:"receivers"`
	Senders         int            `json:"senders"`
	Messages        int            `json:"messages"`
	Rate            float64        `json:"rate"`
	Inflight        int            `json:"inflight"`
	Users           int            `json:"users"`
	Workers         int            `json:"workers"`
	Connected       int            `json:"connected"`
	ConnectFailures map[string]int `json:"connectFailures"`
	Join            LatencyMS      `json:"joinMs"`
	JoinSeconds     float64        `json:"joinSeconds"`
	// JoinCPUSeconds is the CPU time the server used over the join phase
	// (0: unknown): per receiver, what a connect and join cost it, which
	// a loaded machine changes far less than the phase's length.
	JoinCPUSeconds   float64         `json:"joinCpuSeconds,omitempty"`
	Fill             string          `json:"fill"`                  // join or store (--fill)
	FillSeconds      float64         `json:"fillSeconds,omitempty"` // --fill store: writing the memberships`
	Expected         int64           `json:"expected"`
	Delivered        int64           `json:"delivered"`
	Dropped          int             `json:"dropped"`
	Sent             int             `json:"sent"`
	Acked            int             `json:"acked"`
	AckErrors        map[string]int  `json:"ackErrors"`
	SendSeconds      float64         `json:"sendSeconds"` // first send to last send
	Seconds          float64         `json:"seconds"`     // first send to last delivery
	DeliveriesPerSec float64         `json:"deliveriesPerSec"`
	MedianBinPerSec  float64         `json:"medianBinPerSec"`
	PeakBinPerSec    float64         `json:"peakBinPerSec"`
	Latency          LatencyMS       `json:"latencyMs"`
	Ack              LatencyMS       `json:"ackMs"`
	TimeToLast       LatencyMS       `json:"timeToLastMs"` // over messages
	Incomplete       int             `json:"incompleteMessages"`
	TimeToLastEach   []float64       `json:"timeToLastEachMs,omitempty"`
	Series           []float64       `json:"series"` // deliveries/s per bin from the first send
	BinSeconds       float64         `json:"binSeconds"`
	MemBase          *procStatus     `json:"memBase,omitempty"`   // before the receivers connected
	MemBefore        *procStatus     `json:"memBefore,omitempty"` // after they joined, before the sends
	MemAfter         *procStatus     `json:"memAfter,omitempty"`  // after the deliveries
	LatencyHist      *hist.Histogram `json:"latencyHist"`
	AckHist          *hist.Histogram `json:"ackHist"`
}

// IdleResult is what idle found.
type IdleResult struct {
	Conns          int          `json:"conns"`
	OK             int          `json:"ok"`
	HoldSeconds    float64      `json:"holdSeconds"`
	Dropped        int          `json:"dropped"`
	MemBefore      *procStatus  `json:"memBefore,omitempty"`
	MemConnected   *procStatus  `json:"memConnected,omitempty"`
	MemAfter       *procStatus  `json:"memAfter,omitempty"`
	Samples        []procStatus `json:"samples,omitempty"`
	RSSPerConn     float64      `json:"vmRssPerConn"`   // bytes, after the hold
	AnonPerConn    float64      `json:"rssAnonPerConn"` // bytes, after the hold
	PeakRSSPerConn float64      `json:"vmHwmPerConn"`   // bytes, high-water mark
	// From the metrics endpoint: HeapInuse + StackInuse, and goroutines.
	UserPerConn       float64 `json:"userPerConn,omitempty"` // bytes, after the hold
	GoroutinesPerConn float64 `json:"goroutinesPerConn,omitempty"`
}

// Report is the whole run.
type Report struct {
	Scenario string         `json:"scenario"`
	Command  string         `json:"command"`
	Params   map[string]any `json:"params"`
	Machine  Machine        `json:"machine"`
	Started  time.Time      `json:"started"`
	Results  []*Result      `json:"results"`
	Summary  []Row          `json:"summary"`
}

// Row is one metric across targets: medians over the runs, and
// switchboard / baseline when both ran.
type Row struct {
	Name   string             `json:"name"`
	Unit   string             `json:"unit,omitempty"`
	Better string             `json:"better,omitempty"`
	Values map[string]float64 `json:"values"`
	Ratio  *float64           `json:"ratio,omitempty"`
}

func (c *Config) params() map[string]any {
	p := map[string]any{"targets": c.targets(), "repeat": c.Repeat, "timeout": c.Timeout.String()}
	if c.clustered() || c.Store != StoreSQLite {
		p["nodes"], p["store"] = max(c.Nodes, len(c.URLs)), c.Store
	}
	if c.Scenario == Fanout || c.Scenario == Roundtrip {
		p["fill"] = c.Fill
	}
	switch c.Scenario {
	case Fanout, Roundtrip:
		p["receivers"], p["senders"], p["messages"], p["rate"], p["inflight"], p["users"], p["sizePadding"] =
			c.receivers(), c.Senders, c.Messages, c.Rate, c.Inflight, c.Users, c.Size
		if c.Scenario == Roundtrip {
			p["members"], p["duration"] = c.Members, c.Duration.String()
		}
	case Connect, Idle:
		p["conns"], p["concurrency"], p["users"], p["tenants"] = c.Conns, c.Concurrency, c.Users, c.Tenants
		if c.Scenario == Idle {
			p["duration"] = c.Duration.String()
		}
	}
	return p
}

// Run runs the scenario against its targets (alternating with --compare,
// --repeat times) and returns the report.
func Run(ctx context.Context, cfg *Config, stderr io.Writer) (*Report, error) {
	rep := &Report{Scenario: cfg.Scenario, Command: cfg.Command, Params: cfg.params(), Machine: machine(), Started: time.Now().UTC()}
	pb := newProgress(stderr, !cfg.NoProgress)
	for run := 1; run <= cfg.Repeat; run++ {
		for _, name := range cfg.targets() {
			pb.phase(fmt.Sprintf("%s: starting", name), 0)
			t, err := openTarget(ctx, cfg, name, stderr)
			if err != nil {
				pb.clear()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			results, err := runOnce(ctx, cfg, t, pb)
			for _, res := range results {
				if len(res.Problems) > 0 { // what the server said may tell why
					res.Notes = append(res.Notes, t.logTails()...)
				}
			}
			pb.phase(fmt.Sprintf("%s: stopping", name), 0)
			t.Stop()
			pb.clear()
			if err != nil {
				return nil, fmt.Errorf("%s against %s: %w", cfg.Scenario, name, err)
			}
			for _, res := range results {
				res.Run = run
				rep.Results = append(rep.Results, res)
			}
		}
	}
	rep.Machine.LoadAfter = loadAvg()
	rep.summarize()
	return rep, nil
}

// runOnce runs the scenario once against t: one result, or two with
// --beside-one-node (the two rooms of the run).
func runOnce(ctx context.Context, cfg *Config, t *Target, pb *progress) ([]*Result, error) {
	var (
		res *Result
		err error
	)
	switch {
	case cfg.BesideOneNode:
		return runFanoutBeside(ctx, cfg, t, pb)
	case cfg.Scenario == Fanout, cfg.Scenario == Roundtrip:
		res, err = runFanout(ctx, cfg, t, pb)
	case cfg.Scenario == Connect, cfg.Scenario == Idle:
		res, err = runConnect(ctx, cfg, t, pb)
	default:
		err = fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	if err != nil {
		return nil, err
	}
	return []*Result{res}, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// specsFor divides n connections over the workers of a run.
func specsFor(cfg *Config, base workerSpec, n int) ([]workerSpec, bool) {
	nw, inProcess := cfg.workerCount(n)
	nw = max(1, min(nw, n))
	specs := splitSpecs(base, n, nw)
	// Beyond ~28k connections to one address, each worker dials from its
	// own 127.0.0.x: every source address has its own ephemeral ports.
	if n > 25000 && loopbackV4(base.URL) && !inProcess {
		for i := range specs {
			specs[i].SourceIP = fmt.Sprintf("127.0.0.%d", 10+i%240)
		}
	}
	return specs, inProcess
}

func mergeDial(evs []event) (ok int, failures map[string]int, hs, join *hist.Histogram, start, end int64, bins []int64) {
	failures = map[string]int{}
	hs, join = hist.New(), hist.New()
	for _, ev := range evs {
		d := ev.Dial
		if d == nil {
			continue
		}
		ok += d.OK
		for k, v := range d.Failures {
			failures[k] += v
		}
		hs.Merge(d.Handshake)
		join.Merge(d.Join)
		if d.Start != 0 && (start == 0 || d.Start < start) {
			start = d.Start
		}
		end = max(end, d.End)
		bins = addBins(bins, d.Bins)
	}
	return
}

func addBins(a, b []int64) []int64 {
	for len(a) < len(b) {
		a = append(a, 0)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// series turns counts per bin (from t0) into rates from the bin of from
// to the bin of to.
func series(bins []int64, t0, from, to int64, bin time.Duration) []float64 {
	if from < t0 || to < from {
		return nil
	}
	i0, i1 := int((from-t0)/int64(bin)), int((to-t0)/int64(bin))
	var out []float64
	for i := i0; i <= i1 && i < len(bins)+1; i++ {
		v := 0.0
		if i < len(bins) {
			v = float64(bins[i])
		}
		out = append(out, v/bin.Seconds())
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func failureTotal(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// runConnect is connect, and idle (which then holds the connections).
func runConnect(ctx context.Context, cfg *Config, t *Target, pb *progress) (*Result, error) {
	res := &Result{Target: t.Name, How: t.How}
	t0 := time.Now().UnixNano()
	base := workerSpec{Mode: modeConnect, URL: t.URL, URLs: multi(t.urls()), Secret: hex.EncodeToString(t.Secret), Users: cfg.Users, Tenants: cfg.Tenants,
		Concurrency: cfg.Concurrency, T0: t0, Bin: cfg.Bin, Timeout: cfg.Timeout}
	specs, inProcess := specsFor(cfg, base, cfg.Conns)
	f, err := startFleet(ctx, cfg, specs, inProcess)
	if err != nil {
		return nil, err
	}
	defer f.close()
	pb.phase(t.Name+": minting tokens", 0)
	if _, err := f.await(ctx, "prepared", 5*time.Minute); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond) // let the server settle before "before"
	memBefore, nodesBefore := memAll(t)
	pb.phase(t.Name+": connecting", int64(cfg.Conns))
	f.setProgress(func(d, fl, _ int64) { pb.set(d+fl, fmt.Sprintf("%d failed", fl)) })
	t.profile(true)
	if err := f.send(command{Op: "go"}); err != nil {
		return nil, err
	}
	evs, err := f.await(ctx, "ready", 2*time.Hour)
	t.profile(false)
	if err != nil {
		return nil, err
	}
	f.setProgress(nil)
	ok, failures, hs, _, start, end, bins := mergeDial(evs)
	cr := &ConnectResult{Attempted: cfg.Conns, OK: ok, Failed: cfg.Conns - ok, Failures: failures, Handshake: latencyMS(hs), Hist: hs,
		BinSeconds: cfg.Bin.Seconds(), Workers: len(specs), MemBefore: memBefore}
	if missing := cfg.Conns - ok - failureTotal(failures); missing > 0 {
		failures["not attempted"] += missing
	}
	if end > start {
		cr.Seconds = float64(end-start) / 1e9
		cr.PerSecond = float64(ok) / cr.Seconds
		cr.Series = series(bins, t0, start, end, cfg.Bin)
	}
	var nodesAfter []*procStatus
	cr.MemAfter, nodesAfter = memAll(t)
	perNode := mergePerURL(evs, len(t.nodes))
	res.Connect = cr
	if cr.Failed > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d connections failed: %v", cr.Failed, cr.Attempted, failures))
	}
	if cfg.Scenario == Idle {
		ir := &IdleResult{Conns: cfg.Conns, OK: ok, MemBefore: memBefore, MemConnected: cr.MemAfter}
		pb.phase(t.Name+": holding idle connections", int64(cfg.Duration/time.Second))
		holdStart := time.Now()
		tick := time.NewTicker(time.Second)
		for time.Since(holdStart) < cfg.Duration {
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil, ctx.Err()
			case <-tick.C:
			}
			if m := t.mem(); m != nil {
				ir.Samples = append(ir.Samples, *m)
			}
			pb.set(int64(time.Since(holdStart)/time.Second), "")
		}
		tick.Stop()
		ir.HoldSeconds = time.Since(holdStart).Seconds()
		ir.MemAfter, nodesAfter = memAll(t)
		if ir.MemAfter != nil && ir.MemAfter.FromMetrics {
			res.Notes = append(res.Notes, "server memory read from its metrics endpoint (GET /metrics)")
		}
		if err := f.send(command{Op: "report"}); err != nil {
			return nil, err
		}
		reps, err := f.await(ctx, "report", time.Minute)
		if err != nil {
			return nil, err
		}
		causes := map[string]int{}
		for _, ev := range reps {
			if ev.Recv != nil {
				ir.Dropped += ev.Recv.Dropped
				for k, v := range ev.Recv.Causes {
					causes[k] += v
				}
			}
		}
		if ir.Dropped > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("%d connections were closed during the hold: %s", ir.Dropped, formatCounts(causes)))
		}
		if ir.MemBefore != nil && ir.MemAfter != nil && ok > 0 {
			ir.RSSPerConn = float64(ir.MemAfter.VmRSS-ir.MemBefore.VmRSS) / float64(ok)
			ir.AnonPerConn = float64(ir.MemAfter.RssAnon-ir.MemBefore.RssAnon) / float64(ok)
			ir.PeakRSSPerConn = float64(ir.MemAfter.VmHWM-ir.MemBefore.VmRSS) / float64(ok)
			if ir.MemAfter.HeapInuse > 0 && ir.MemBefore.HeapInuse > 0 {
				ir.UserPerConn = float64(userMem(ir.MemAfter)-userMem(ir.MemBefore)) / float64(ok)
				ir.GoroutinesPerConn = float64(ir.MemAfter.Goroutines-ir.MemBefore.Goroutines) / float64(ok)
			}
		} else if ir.MemAfter == nil {
			res.Notes = append(res.Notes, "server memory not measured: no server process to read (spawn it, or give --pid) and no metrics endpoint answered")
		}
		res.Idle = ir
	}
	res.Nodes = t.nodeMemsOf(nodesBefore, nodesAfter, perNode)
	res.Metrics = metricsOf(res)
	return res, nil
}

// userMem is heap and stacks in use, as the gateway benchmarks count
// user memory.
func userMem(m *procStatus) int64 { return m.HeapInuse + m.StackInuse }

// ackError names the cause of a failed send.
func ackError(err error) string {
	var ae *client.Error
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.Is(err, client.ErrDisconnected), errors.Is(err, client.ErrClosed):
		return "disconnected"
	case strings.Contains(err.Error(), "no reply within"):
		return "timeout"
	}
	return "other"
}

func runFanout(ctx context.Context, cfg *Config, t *Target, pb *progress) (*Result, error) {
	res := &Result{Target: t.Name, How: t.How}
	nonce := randHex(4)
	fr := &FanoutResult{Receivers: cfg.receivers(), Senders: cfg.Senders, Messages: cfg.Messages, Rate: cfg.Rate, Inflight: cfg.Inflight,
		Users: cfg.Users, BinSeconds: cfg.Bin.Seconds(), AckErrors: map[string]int{}}
	res.Fanout = fr

	fr.Fill = cfg.Fill
	tenant := runTenant(nonce)
	senders, roomID, err := joinSenders(ctx, cfg, t, pb, nonce, tenant)
	defer func() {
		for _, s := range senders {
			if s != nil {
				s.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}

	t0 := time.Now().UnixNano()
	f, ok, _, err := connectReceivers(ctx, cfg, t, pb, res, receiverFleet{urls: t.urls(), roomID: roomID}, nonce, tenant, t0)
	if f != nil {
		defer f.close()
	}
	if err != nil {
		return nil, err
	}

	fr.Expected = int64(cfg.Messages) * int64(ok)
	sendTimes, ack, firstSend := sendMessages(ctx, cfg, t, pb, f, fr, senders, []string{roomID}, nonce, fr.Expected)

	// Wait for the deliveries.
	if err := f.send(command{Op: "drain", Deadline: time.Now().Add(cfg.Timeout).UnixNano()}); err != nil {
		return nil, err
	}
	reps, err := f.await(ctx, "report", cfg.Timeout+2*time.Minute)
	if cfg.ProfilePhase != ProfileJoin {
		t.profile(false)
	}
	if err != nil {
		return nil, err
	}
	f.setProgress(nil)
	fr.MemAfter, _ = memAll(t)
	summarizeFanout(cfg, res, reps, sendTimes, ack, ok, t0, firstSend, nil)
	res.Metrics = metricsOf(res)
	return res, nil
}

// fanoutTenant begins the tenant of every bench user in fanout and
// roundtrip.
const fanoutTenant = "bench"

// runTenant is the tenant of one fanout or roundtrip run: its own, so
// that nothing a previous run left in a shared store (PostgreSQL,
// DynamoDB) is in its room or among its connections.
func runTenant(nonce string) string { return fanoutTenant + "-" + nonce }

// multi is urls when there are several (the workers spread their
// connections over them), else nil.
func multi(urls []string) []string {
	if len(urls) < 2 {
		return nil
	}
	return urls
}

// memAll reads a target's memory: the total, and each node's.
func memAll(t *Target) (*procStatus, []*procStatus) {
	if len(t.nodes) == 0 {
		return t.mem(), nil
	}
	nodes := t.nodeMems()
	return sumStatus(nodes), nodes
}

// joinSenders dials the senders (SDK clients), creates the room and has them
// all join it. It returns the senders dialed so far even on error: the
// caller closes them.
func joinSenders(ctx context.Context, cfg *Config, t *Target, pb *progress, nonce, tenant string) ([]*client.Client, string, error) {
	pb.phase(t.Name+": senders joining", 0)
	senders := make([]*client.Client, cfg.Senders)
	urls := t.urls()
	for i := range senders {
		tok := ""
		if t.Secret != nil {
			var err error
			tok, err = auth.MintDevToken(t.Secret, auth.Identity{UserID: "bench-sender-" + strconv.Itoa(i), Username: "Bench sender", TenantID: tenant}, 2*time.Hour, time.Now())
			if err != nil {
				return senders, "", err
			}
		}
		c, err := client.Dial(ctx, client.Options{URL: urls[i%len(urls)], Token: tok, RequestTimeout: cfg.Timeout, HeartbeatInterval: -1, NoReconnect: true, EventBuffer: 64})
		if err != nil {
			return senders, "", fmt.Errorf("sender: %w", err)
		}
		senders[i] = c
		go func() {
			for range c.Events() {
			}
		}()
	}
	room, err := senders[0].CreateRoom(ctx, client.CreateRoomInput{Name: "bench " + nonce})
	if err != nil {
		return senders, "", fmt.Errorf("creating the room: %w", err)
	}
	for _, s := range senders {
		if _, err := s.JoinRoom(ctx, room.RoomID); err != nil {
			return senders, "", fmt.Errorf("sender joining the room: %w", err)
		}
	}
	return senders, room.RoomID, nil
}

// receiverFleet is one set of receivers: the nodes they dial (round
// robin) and their room.
type receiverFleet struct {
	urls     []string
	roomID   string
	expect   int             // messages each receiver gets (0: all of them)
	skip     map[string]bool // --fill store: connections not to put in this room (another fleet's)
	children bool            // in child processes even if few (another fleet shares this process's descriptors)
}

// connectReceivers starts the worker fleet whose receivers connect and join
// rf's room, and waits until they have. It returns the fleet (non-nil once
// started, even on error: the caller closes it), how many receivers
// joined, and with --fill store the connections it put in the room; it
// records the join phase in res.
func connectReceivers(ctx context.Context, cfg *Config, t *Target, pb *progress, res *Result, rf receiverFleet, nonce, tenant string, t0 int64) (*fleet, int, map[string]bool, error) {
	fr := res.Fanout
	roomID := rf.roomID
	base := workerSpec{Mode: modeReceive, URL: rf.urls[0], URLs: multi(rf.urls), NoJoin: cfg.Fill == FillStore,
		Secret: hex.EncodeToString(t.Secret), Users: cfg.Users, Tenant: tenant,
		Concurrency: cfg.Concurrency, RoomID: roomID, Nonce: nonce, Messages: cfg.Messages, Expect: rf.expect, T0: t0, Bin: cfg.Bin, Timeout: cfg.Timeout}
	specs, inProcess := specsFor(cfg, base, fr.Receivers)
	if rf.children {
		inProcess = false
	}
	fr.Workers = len(specs)
	f, err := startFleet(ctx, cfg, specs, inProcess)
	if err != nil {
		return nil, 0, nil, err
	}
	pb.phase(t.Name+": minting tokens", 0)
	if _, err := f.await(ctx, "prepared", 5*time.Minute); err != nil {
		return f, 0, nil, err
	}
	time.Sleep(200 * time.Millisecond)
	var nodesBase []*procStatus
	fr.MemBase, nodesBase = memAll(t)
	pb.phase(t.Name+": receivers connecting and joining", int64(fr.Receivers))
	f.setProgress(func(d, fl, _ int64) { pb.set(d+fl, fmt.Sprintf("%d failed", fl)) })
	if cfg.ProfilePhase == ProfileJoin {
		t.profile(true)
	}
	cpu0, cpuOK := t.cpuSeconds()
	joinStart := time.Now()
	if err := f.send(command{Op: "go"}); err != nil {
		return f, 0, nil, err
	}
	evs, err := f.await(ctx, "ready", 2*time.Hour)
	if cfg.ProfilePhase == ProfileJoin {
		t.profile(false)
	}
	if err != nil {
		return f, 0, nil, err
	}
	fr.JoinSeconds = time.Since(joinStart).Seconds()
	if cpu1, ok := t.cpuSeconds(); ok && cpuOK {
		fr.JoinCPUSeconds = cpu1 - cpu0
	}
	ok, failures, _, join, _, _, _ := mergeDial(evs)
	fr.Connected, fr.ConnectFailures, fr.Join = ok, failures, latencyMS(join)
	if ok < fr.Receivers {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d receivers failed to connect or join: %v", fr.Receivers-ok, fr.Receivers, failures))
	}
	if ok == 0 {
		return f, 0, nil, fmt.Errorf("no receiver could connect and join: %v", failures)
	}
	var filled map[string]bool
	if cfg.Fill == FillStore {
		pb.phase(t.Name+": writing the memberships into the store", 0)
		filler, closeFiller, err := openFiller(ctx, cfg)
		if err != nil {
			return f, 0, nil, err
		}
		fillStart := time.Now()
		want := ok
		if rf.skip == nil {
			want += cfg.Senders // in the room already, and listed with the receivers
		}
		filled, err = fillRoom(ctx, filler, tenant, roomID, rf.skip, want)
		closeFiller()
		if err != nil {
			return f, 0, nil, err
		}
		fr.FillSeconds = time.Since(fillStart).Seconds()
		if len(filled) < ok {
			res.Problems = append(res.Problems, fmt.Sprintf("--fill store found %d live connections of the run's tenant to put in the room, want %d receivers and %d senders", len(filled), ok, cfg.Senders))
		}
	}
	time.Sleep(200 * time.Millisecond) // the last user_joined broadcasts settle
	var nodesLoaded []*procStatus
	fr.MemBefore, nodesLoaded = memAll(t)
	res.Nodes = t.nodeMemsOf(nodesBase, nodesLoaded, mergePerURL(evs, len(t.nodes)))
	return f, ok, filled, nil
}

// sendMessages sends cfg.Messages messages to roomID, spread over the
// senders (at cfg.Rate, at most cfg.Inflight at a time), and waits for their
// acknowledgements; message i goes to rooms[i % len(rooms)]. It returns when each was sent (0 if not), the
// acknowledgement latencies, and the first send time.
func sendMessages(ctx context.Context, cfg *Config, t *Target, pb *progress, f *fleet, fr *FanoutResult, senders []*client.Client, rooms []string, nonce string, expected int64) (sendTimes []int64, ack *hist.Atomic, firstSend int64) {
	pb.phase(t.Name+": sending", expected)
	f.setProgress(func(_, _, dl int64) { pb.set(dl, "deliveries") })
	sendTimes = make([]int64, cfg.Messages)
	ack = hist.NewAtomic()
	var (
		ackMu sync.Mutex
		acked atomic.Int64
		wg    sync.WaitGroup
	)
	var sem chan struct{}
	if cfg.Inflight > 0 {
		sem = make(chan struct{}, cfg.Inflight)
	}
	pad := strings.Repeat("x", cfg.Size)
	if cfg.ProfilePhase != ProfileJoin {
		t.profile(true)
	}
	start := time.Now()
	for i := 0; i < cfg.Messages; i++ {
		if ctx.Err() != nil {
			break
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / cfg.Rate * 1e9))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if sem != nil {
			sem <- struct{}{}
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			s := senders[i%len(senders)]
			ts := time.Now()
			sendTimes[i] = ts.UnixNano()
			content := "sbm:" + nonce + ":" + strconv.Itoa(i) + ":" + strconv.FormatInt(ts.UnixNano(), 10) + " " + pad
			_, err := s.SendMessage(ctx, client.SendMessageInput{RoomID: rooms[i%len(rooms)], Content: content})
			if err != nil {
				ackMu.Lock()
				fr.AckErrors[ackError(err)]++
				ackMu.Unlock()
				return
			}
			ack.Record(time.Since(ts).Nanoseconds())
			acked.Add(1)
		}(i)
	}
	wg.Wait()
	fr.Sent, fr.Acked = cfg.Messages, int(acked.Load())
	firstSend, lastSend := int64(math.MaxInt64), int64(0)
	for _, st := range sendTimes {
		if st != 0 {
			firstSend, lastSend = min(firstSend, st), max(lastSend, st)
		}
	}
	fr.SendSeconds = float64(lastSend-firstSend) / 1e9
	return sendTimes, ack, firstSend
}

// summarizeFanout merges the workers' reports into res.Fanout (deliveries,
// latencies, time to last delivery, rates) and notes the problems.
// receivers is how many joined; t0 is the start of the bins.
//
// msgs are the indexes of the messages that went to these receivers (nil:
// all of them).
func summarizeFanout(cfg *Config, res *Result, reps []event, sendTimes []int64, ack *hist.Atomic, receivers int, t0, firstSend int64, msgs []int) {
	if msgs == nil {
		msgs = make([]int, cfg.Messages)
		for i := range msgs {
			msgs[i] = i
		}
	}
	fr := res.Fanout
	lat := hist.New()
	count := make([]int64, cfg.Messages)
	last := make([]int64, cfg.Messages)
	var bins []int64
	for _, ev := range reps {
		r := ev.Recv
		if r == nil {
			continue
		}
		fr.Delivered += r.Deliveries
		fr.Dropped += r.Dropped
		lat.Merge(r.Latency)
		for i := range min(len(r.Count), len(count)) {
			count[i] += int64(r.Count[i])
			last[i] = max(last[i], r.Last[i])
		}
		bins = addBins(bins, r.Bins)
	}
	fr.LatencyHist, fr.Latency = lat, latencyMS(lat)
	ackH := ack.Snapshot()
	fr.AckHist, fr.Ack = ackH, latencyMS(ackH)
	ttl := hist.New()
	lastDelivery := int64(0)
	for _, i := range msgs {
		if count[i] < int64(receivers) {
			fr.Incomplete++
		}
		if count[i] == 0 || sendTimes[i] == 0 {
			continue
		}
		ttl.Record(last[i] - sendTimes[i])
		lastDelivery = max(lastDelivery, last[i])
		if cfg.Messages <= 5000 {
			fr.TimeToLastEach = append(fr.TimeToLastEach, float64(last[i]-sendTimes[i])/1e6)
		}
	}
	fr.TimeToLast = latencyMS(ttl)
	if lastDelivery > firstSend {
		fr.Seconds = float64(lastDelivery-firstSend) / 1e9
		fr.DeliveriesPerSec = float64(fr.Delivered) / fr.Seconds
		fr.Series = series(bins, t0, firstSend, lastDelivery, cfg.Bin)
		if len(fr.Series) > 2 {
			fr.MedianBinPerSec = median(fr.Series[1 : len(fr.Series)-1])
		} else {
			fr.MedianBinPerSec = median(fr.Series)
		}
		fr.PeakBinPerSec = slices.Max(append([]float64{0}, fr.Series...))
	}
	if fr.Delivered < fr.Expected {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d deliveries missing (%d messages incomplete)", fr.Expected-fr.Delivered, fr.Expected, fr.Incomplete))
	}
	if n := failureTotal(fr.AckErrors); n > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d sends failed: %v", n, fr.AckErrors))
	}
	if fr.Dropped > 0 {
		causes := map[string]int{}
		for _, ev := range reps {
			if ev.Recv != nil {
				for k, v := range ev.Recv.Causes {
					causes[k] += v
				}
			}
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%d receivers were disconnected: %s", fr.Dropped, formatCounts(causes)))
	}
}

// metricsOf lists a result's figures for the table and the ratios.
func metricsOf(r *Result) []Metric {
	var m []Metric
	add := func(name, unit, better string, v float64) {
		if unit == "" {
			unit = "count"
		}
		m = append(m, Metric{Name: name, Unit: unit, Value: v, Better: better})
	}
	lat := func(prefix string, l LatencyMS) {
		add(prefix+" p50", "ms", "lower", l.P50)
		add(prefix+" p90", "ms", "lower", l.P90)
		add(prefix+" p99", "ms", "lower", l.P99)
		add(prefix+" max", "ms", "lower", l.Max)
	}
	mem := func(before, after *procStatus, n int) {
		if before == nil || after == nil || n == 0 {
			return
		}
		add("server VmRSS per connection", "KB", "lower", float64(after.VmRSS-before.VmRSS)/float64(n)/1024)
		add("server RssAnon per connection", "KB", "lower", float64(after.RssAnon-before.RssAnon)/float64(n)/1024)
	}
	if f := r.Fanout; f != nil {
		add("receivers connected", "", "", float64(f.Connected))
		add("deliveries expected", "", "", float64(f.Expected))
		add("deliveries received", "", "", float64(f.Delivered))
		add("sends acknowledged", "", "", float64(f.Acked))
		add("deliveries/s (first send to last delivery)", "/s", "higher", f.DeliveriesPerSec)
		if f.Rate == 0 {
			add("deliveries/s (median time bin)", "/s", "higher", f.MedianBinPerSec)
		}
		lat("delivery latency", f.Latency)
		add("time to last delivery p50", "ms", "lower", f.TimeToLast.P50)
		add("time to last delivery p90", "ms", "lower", f.TimeToLast.P90)
		add("time to last delivery max", "ms", "lower", f.TimeToLast.Max)
		lat("ack latency", f.Ack)
		if f.Fill == FillStore {
			add("connect phase", "s", "lower", f.JoinSeconds)
			add("room fill through the store", "s", "lower", f.FillSeconds)
		} else {
			add("join phase", "s", "lower", f.JoinSeconds)
		}
		if f.JoinCPUSeconds > 0 && f.Connected > 0 {
			add("server CPU per receiver, join phase", "µs", "lower", f.JoinCPUSeconds/float64(f.Connected)*1e6)
		}
		if f.MemBase != nil && f.MemBefore != nil && f.MemAfter != nil && f.Connected >= 1000 { // below, allocator noise
			add("server VmRSS per receiver, after joining", "KB", "lower", float64(f.MemBefore.VmRSS-f.MemBase.VmRSS)/float64(f.Connected)/1024)
			add("server VmRSS after the deliveries", "MB", "lower", float64(f.MemAfter.VmRSS)/(1<<20))
		}
	}
	if c := r.Connect; c != nil {
		add("connections opened", "", "", float64(c.OK))
		add("connections failed", "", "", float64(c.Failed))
		add("connects/s", "/s", "higher", c.PerSecond)
		lat("handshake latency", c.Handshake)
		if r.Idle == nil {
			mem(c.MemBefore, c.MemAfter, c.OK)
		}
	}
	for _, n := range r.Nodes {
		if n.Before == nil || n.After == nil || n.Conns < 1000 { // below, allocator noise
			continue
		}
		prefix := fmt.Sprintf("node %d: ", n.Node)
		add(prefix+"connections", "", "", float64(n.Conns))
		add(prefix+"VmRSS per connection", "KB", "lower", float64(n.After.VmRSS-n.Before.VmRSS)/float64(n.Conns)/1024)
		if n.After.HeapInuse > 0 && n.Before.HeapInuse > 0 {
			add(prefix+"user memory (HeapInuse+StackInuse) per connection", "KB", "lower", float64(userMem(n.After)-userMem(n.Before))/float64(n.Conns)/1024)
		}
	}
	if i := r.Idle; i != nil && i.MemAfter != nil && i.MemBefore != nil {
		add("held", "s", "", i.HoldSeconds)
		add("dropped during the hold", "", "", float64(i.Dropped))
		if i.MemConnected != nil && i.OK > 0 {
			add("server VmRSS per connection, just connected", "KB", "lower", float64(i.MemConnected.VmRSS-i.MemBefore.VmRSS)/float64(i.OK)/1024)
		}
		add("server VmRSS per connection, after the hold", "KB", "lower", i.RSSPerConn/1024)
		add("server RssAnon per connection, after the hold", "KB", "lower", i.AnonPerConn/1024)
		add("server VmHWM per connection (peak)", "KB", "lower", i.PeakRSSPerConn/1024)
		if i.UserPerConn != 0 {
			add("server user memory (HeapInuse+StackInuse) per connection, after the hold", "KB", "lower", i.UserPerConn/1024)
			add("server goroutines per connection", "", "", i.GoroutinesPerConn)
		}
		add("server VmRSS total after the hold", "MB", "lower", float64(i.MemAfter.VmRSS)/(1<<20))
	}
	return m
}

// targets are the report's targets in the order they first ran.
func (rep *Report) targets() []string {
	var out []string
	for _, r := range rep.Results {
		if !slices.Contains(out, r.Target) {
			out = append(out, r.Target)
		}
	}
	return out
}

// summarize fills Summary: per metric, the median over runs per target,
// and the ratio of the first target to the second (switchboard /
// baseline, or cluster / one node).
func (rep *Report) summarize() {
	var order []string
	byName := map[string]*Row{}
	vals := map[string]map[string][]float64{}
	for _, r := range rep.Results {
		for _, m := range r.Metrics {
			row := byName[m.Name]
			if row == nil {
				row = &Row{Name: m.Name, Unit: m.Unit, Better: m.Better, Values: map[string]float64{}}
				byName[m.Name] = row
				order = append(order, m.Name)
				vals[m.Name] = map[string][]float64{}
			}
			vals[m.Name][r.Target] = append(vals[m.Name][r.Target], m.Value)
		}
	}
	targets := rep.targets()
	rep.Summary = nil
	for _, name := range order {
		row := byName[name]
		for target, v := range vals[name] {
			row.Values[target] = median(v)
		}
		if len(targets) != 2 {
			rep.Summary = append(rep.Summary, *row)
			continue
		}
		a, okA := row.Values[targets[0]]
		b, okB := row.Values[targets[1]]
		if okA && okB && b != 0 && row.Better != "" {
			ratio := a / b
			row.Ratio = &ratio
		}
		rep.Summary = append(rep.Summary, *row)
	}
}
