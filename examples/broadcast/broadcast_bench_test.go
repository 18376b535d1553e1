package broadcast_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkSeedBroadcast is the seed documents' broadcast as a user runs
// it: `switchboard serve` with api.yaml (connect limits off), the example's
// handler behind it, SWITCHBOARD_BENCH_CONNS WebSocket clients (default
// 10,000) in this process. Each iteration one client sends a sendmessage;
// the handler posts it to every connection through the @connections API
// with the AWS SDK; the time runs until every client has read it. It
// reports the median, minimum and maximum time to the last delivery.
//
//	go test -run '^$' -bench SeedBroadcast -benchtime 5x ./examples/broadcast
//
// BROADCAST_BENCH_SWITCHBOARD and BROADCAST_BENCH_HANDLER name prebuilt
// binaries to run instead of building this tree's (e.g. an older
// commit's, to compare in one run).
func BenchmarkSeedBroadcast(b *testing.B) {
	n := 10000
	if v := os.Getenv("SWITCHBOARD_BENCH_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("SWITCHBOARD_BENCH_CONNS=%q: want a positive number", v)
		}
	}
	dir := b.TempDir()
	switchboard, handler := os.Getenv("BROADCAST_BENCH_SWITCHBOARD"), os.Getenv("BROADCAST_BENCH_HANDLER")
	if switchboard == "" || handler == "" {
		bins := build(b, dir, "./cmd/switchboard", "./examples/broadcast/handler")
		switchboard, handler = bins[0], bins[1]
	}
	api, err := os.ReadFile("api.yaml")
	if err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "api.yaml")
	api = append(api, "limits:\n  connectRate: -1\n"...)
	if err := os.WriteFile(config, api, 0o644); err != nil {
		b.Fatal(err)
	}
	handlerCmd, handlerURL := startProcess(b, exec.Command(handler, "-addr", "127.0.0.1:0"), regexp.MustCompile(`listening on (http://\S+)`))
	serve := exec.Command(switchboard, "serve", "--config", config, "--addr", "127.0.0.1:0")
	serve.Env = append(serve.Environ(), "BROADCAST_HANDLER="+handlerURL, "SWITCHBOARD_CA_DIR="+filepath.Join(dir, "ca"))
	serve, wsURL := startProcess(b, serve, regexp.MustCompile(`WebSocket:\s+(ws://\S+)`))

	// The clients count the messages of the current round ("r<k>").
	var round atomic.Int64
	var got atomic.Int64
	clients := make([]*websocket.Conn, n)
	var dialErr atomic.Value
	var wg sync.WaitGroup
	var next atomic.Int64
	d := websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 512, HandshakeTimeout: 30 * time.Second}
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				c, _, err := d.Dial(wsURL, nil)
				if err != nil {
					dialErr.CompareAndSwap(nil, err)
					return
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		b.Fatalf("dial: %v", err)
	}
	var readers sync.WaitGroup
	b.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
		readers.Wait()
	})
	for _, c := range clients {
		readers.Go(func() {
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if string(p) == "r"+strconv.FormatInt(round.Load(), 10) {
					got.Add(1)
				}
			}
		})
	}
	broadcast := func(k int) time.Duration {
		got.Store(0)
		round.Store(int64(k))
		start := time.Now()
		msg := fmt.Sprintf(`{"action":"sendmessage","message":"r%d"}`, k)
		if err := clients[0].WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			b.Fatalf("send: %v", err)
		}
		deadline := start.Add(2 * time.Minute)
		for got.Load() < int64(n) {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: %d of %d clients got the message", k, got.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	broadcast(0) // warm-up: the handler's connections to the gateway
	var times []time.Duration
	cpuServe, cpuHandler, cpuSelf := procCPU(serve.Process.Pid), procCPU(handlerCmd.Process.Pid), procCPU(os.Getpid())
	sysServe, sysHandler := procSyscalls(serve.Process.Pid), procSyscalls(handlerCmd.Process.Pid)
	b.ResetTimer()
	for i := range b.N {
		times = append(times, broadcast(i+1))
	}
	b.StopTimer()
	// CPU time per broadcast of each process: where the time goes.
	per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(per(procCPU(serve.Process.Pid)-cpuServe), "cpu-ms-serve")
	b.ReportMetric(per(procCPU(handlerCmd.Process.Pid)-cpuHandler), "cpu-ms-handler")
	b.ReportMetric(per(procCPU(os.Getpid())-cpuSelf), "cpu-ms-clients")
	// Read and write system calls per post (each broadcast is n posts):
	// unlike CPU time, the machine's other load does not change them.
	perPost := func(d int64) float64 { return float64(d) / float64(b.N) / float64(n) }
	b.ReportMetric(perPost(procSyscalls(serve.Process.Pid)-sysServe), "syscalls/post-serve")
	b.ReportMetric(perPost(procSyscalls(handlerCmd.Process.Pid)-sysHandler), "syscalls/post-handler")
	slices.Sort(times)
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(msf(times[len(times)/2]), "ms-median")
	b.ReportMetric(msf(times[0]), "ms-min")
	b.ReportMetric(msf(times[len(times)-1]), "ms-max")
	b.Logf("%d clients: %v", n, times)
}

// procCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (0 where there is none).
func procCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 14th and 15th fields of the line.
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// procSyscalls is the number of read and write system calls process pid
// has made (syscr + syscw of /proc/PID/io; 0 where there is none).
func procSyscalls(pid int) int64 {
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	var total int64
	for _, line := range strings.Split(string(io), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && (k == "syscr" || k == "syscw") {
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
		}
	}
	return total
}
