package gateway

// Benchmarks of the gateway as a whole. BenchmarkFanout10k and
// BenchmarkIdleMemory hold their clients in a child process (see
// benchclient_test.go) and measure once per invocation: run them with
// -benchtime 1x. Their size is set with SWITCHBOARD_BENCH_CONNS (default
// 10000) and, for the fan-out, SWITCHBOARD_BENCH_ROUNDS (default 30 of each
// kind). See docs/benchmarks.md for the commands and the figures.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
	"github.com/switchboard-ws/switchboard/sigv4"
)

const benchMessageBytes = 100

// BenchmarkFanout10k sends one ~100-byte message to every connection, round
// after round, in two ways on the same sockets: "gateway" is the gateway's
// broadcast path (PostFrame with every id: send queue, writer goroutine,
// vectored write); "direct" is the floor a minimal server reaches, one
// goroutine per connection writing the same prepared frame straight to the
// socket. A round's time runs from the start of the send until the child
// reports that every connection has the message. The kinds alternate
// (G D D G G D ...), each round starting with every writer idle and the heap
// collected.
func BenchmarkFanout10k(b *testing.B) {
	n := benchEnvInt(b, "SWITCHBOARD_BENCH_CONNS", 10000)
	rounds := benchEnvInt(b, "SWITCHBOARD_BENCH_ROUNDS", 30)
	s, url := startBenchGateway(b, Options{})
	f := startFleet(b, url, n)
	if _, err := f.await(fmt.Sprintf("ready %d", n), 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	waitConnections(b, s, n, 30*time.Second)
	var (
		conns []*conn
		ids   []string
	)
	s.reg.each(func(c *conn) {
		conns = append(conns, c)
		ids = append(ids, c.meta.id)
	})
	ctx := context.Background()

	// SWITCHBOARD_BENCH_FANOUT=gateway or direct runs one kind only (to
	// profile it); the ratio is then not reported.
	only := os.Getenv("SWITCHBOARD_BENCH_FANOUT")
	if only != "" && only != "gateway" && only != "direct" {
		b.Fatalf("SWITCHBOARD_BENCH_FANOUT=%q: want gateway or direct", only)
	}

	// SWITCHBOARD_BENCH_CPUPROFILE=FILE profiles the rounds only, without
	// the handshakes of the setup.
	if path := os.Getenv("SWITCHBOARD_BENCH_CPUPROFILE"); path != "" {
		pf, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}

	var gw, direct, enqueue, spawn []time.Duration
	b.ResetTimer()
	for r := range 2 * rounds {
		k := r + 1
		frame := wsproto.TextFrame(benchPayload(k, benchMessageBytes))
		viaGateway := (r%2 == 0) == ((r/2)%2 == 0)
		if only != "" {
			if viaGateway != (only == "gateway") {
				continue
			}
		}
		settle(b, conns)

		start := time.Now()
		if viaGateway {
			if gone := s.PostFrame(ctx, ids, frame); len(gone) > 0 {
				b.Fatalf("round %d: %d connections gone", k, len(gone))
			}
			enqueue = append(enqueue, time.Since(start))
		} else {
			for _, c := range conns {
				go func(nc net.Conn) { nc.Write(frame) }(c.nc)
			}
			spawn = append(spawn, time.Since(start))
		}
		at, err := f.await(fmt.Sprintf("done %d", k), time.Minute)
		if err != nil {
			b.Fatalf("round %d: %v", k, err)
		}
		if viaGateway {
			gw = append(gw, at.Sub(start))
		} else {
			direct = append(direct, at.Sub(start))
		}
	}
	b.StopTimer()

	b.ReportMetric(0, "ns/op")
	if len(gw) > 0 {
		b.ReportMetric(ms(quantile(gw, 0.5)), "gateway-ms")
		b.ReportMetric(ms(quantile(gw, 0.9)), "gateway-p90-ms")
		b.ReportMetric(ms(quantile(enqueue, 0.5)), "postframe-ms")
		b.Logf("gateway, %d connections, %d rounds: %s; the PostFrame call: %s", n, len(gw), summary(gw), summary(enqueue))
	}
	if len(direct) > 0 {
		b.ReportMetric(ms(quantile(direct, 0.5)), "direct-ms")
		b.ReportMetric(ms(quantile(direct, 0.9)), "direct-p90-ms")
		b.ReportMetric(ms(quantile(spawn, 0.5)), "spawn-ms")
		b.Logf("direct, %d connections, %d rounds: %s; the spawning loop: %s", n, len(direct), summary(direct), summary(spawn))
	}
	if len(gw) > 0 && len(direct) > 0 {
		b.ReportMetric(float64(quantile(gw, 0.5))/float64(quantile(direct, 0.5)), "ratio")
	}
	if os.Getenv("SWITCHBOARD_BENCH_VERBOSE") != "" {
		b.Logf("gateway rounds (ms): %v", msList(gw))
		b.Logf("direct rounds (ms): %v", msList(direct))
	}
}

func msList(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = strconv.FormatFloat(ms(d), 'f', 1, 64)
	}
	return out
}

// BenchmarkIdleMemory opens SWITCHBOARD_BENCH_CONNS idle connections
// (default 10000) and reports what each costs the server: heap and stacks
// in use after a collection ("user-B/conn"), the growth of the resident set
// after returning free memory to the OS ("rss-B/conn"), and goroutines.
func BenchmarkIdleMemory(b *testing.B) {
	n := benchEnvInt(b, "SWITCHBOARD_BENCH_CONNS", 10000)
	s, url := startBenchGateway(b, Options{})

	before := benchMemory(b)
	f := startFleet(b, url, n)
	if _, err := f.await(fmt.Sprintf("ready %d", n), 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	waitConnections(b, s, n, 30*time.Second)
	time.Sleep(time.Second) // let net/http's connection goroutines end
	after := benchMemory(b)

	// Once more after every connection received a broadcast, to see what a
	// connection keeps once its writer has finished.
	var (
		conns []*conn
		ids   []string
	)
	s.reg.each(func(c *conn) {
		conns = append(conns, c)
		ids = append(ids, c.meta.id)
	})
	if gone := s.PostFrame(context.Background(), ids, wsproto.TextFrame(benchPayload(1, benchMessageBytes))); len(gone) > 0 {
		b.Fatalf("%d connections gone", len(gone))
	}
	if _, err := f.await("done 1", time.Minute); err != nil {
		b.Fatal(err)
	}
	settle(b, conns)
	conns, ids = nil, nil
	posted := benchMemory(b)

	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(per(after.heap+after.stack, before.heap+before.stack), "user-B/conn")
	b.ReportMetric(per(after.heap, before.heap), "heap-B/conn")
	b.ReportMetric(per(after.stack, before.stack), "stack-B/conn")
	b.ReportMetric(per(after.rss, before.rss), "rss-B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
	b.ReportMetric(per(posted.heap+posted.stack, before.heap+before.stack), "user-after-post-B/conn")
	b.ReportMetric(float64(posted.goroutines-before.goroutines)/float64(n), "goroutines-after-post/conn")
}

type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func benchMemory(tb testing.TB) memSample {
	runtime.GC()
	debug.FreeOSMemory() // collects again and returns free pages, so RSS means live memory
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapInuse, stack: m.StackInuse, rss: vmRSS(tb), goroutines: runtime.NumGoroutine()}
}

// vmRSS is the process's resident set in bytes, from /proc/self/status.
func vmRSS(tb testing.TB) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}

var benchCredentials = sigv4.Credentials{"AKIDSWITCHBOARDBENCH": "bench-secret"}

// BenchmarkManagementPost measures PostToConnection through the AWS SDK
// client, over loopback HTTP, to a WebSocket client that reads the message:
// posts per second, delivery included, without and with SigV4 (signing in
// the SDK and verification in the gateway).
func BenchmarkManagementPost(b *testing.B) {
	b.Run("anonymous", func(b *testing.B) { benchManagementPost(b, false) })
	b.Run("sigv4", func(b *testing.B) { benchManagementPost(b, true) })
}

func benchManagementPost(b *testing.B, signed bool) {
	const clients = 8
	opts := Options{}
	if signed {
		opts.Credentials = benchCredentials
	}
	s, wsURL := startBenchGateway(b, opts)
	received := dialReaders(b, wsURL, clients)
	waitConnections(b, s, clients, 10*time.Second)
	var ids []string
	s.reg.each(func(c *conn) { ids = append(ids, c.meta.id) })

	mopts := apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String("http" + strings.TrimPrefix(wsURL, "ws")),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
	}
	if signed {
		for k, v := range benchCredentials {
			mopts.Credentials = credentials.NewStaticCredentialsProvider(k, v, "")
		}
	}
	mgmt := apigatewaymanagementapi.New(mopts)
	data := benchPayload(0, benchMessageBytes)
	ctx := context.Background()

	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		id := ids[int(next.Add(1))%len(ids)]
		in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data}
		for pb.Next() {
			if _, err := mgmt.PostToConnection(ctx, in); err != nil {
				b.Errorf("post: %v", err)
				return
			}
		}
	})
	waitPosts(b, received)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
}

// BenchmarkManagementHandler is the server's share of a post: ServeHTTP on a
// prepared request (signed once, outside the loop, for "sigv4"), without
// HTTP transport or SDK, down to the frame being queued and written.
func BenchmarkManagementHandler(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "anonymous"
		if signed {
			name = "sigv4"
		}
		b.Run(name, func(b *testing.B) {
			opts := Options{}
			if signed {
				opts.Credentials = benchCredentials
			}
			s, wsURL := startBenchGateway(b, opts)
			received := dialReaders(b, wsURL, 1)
			waitConnections(b, s, 1, 10*time.Second)
			var id string
			s.reg.each(func(c *conn) { id = c.meta.id })
			body := benchPayload(0, benchMessageBytes)

			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/dev/@connections/"+id, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			if signed {
				var akid, secret string
				for akid, secret = range benchCredentials {
				}
				sum := sha256Hex(body)
				req.Header.Set("X-Amz-Content-Sha256", sum)
				err := v4.NewSigner().SignHTTP(context.Background(),
					aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, sum, "execute-api", "us-east-1", time.Now())
				if err != nil {
					b.Fatal(err)
				}
			}
			w := &discardResponse{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r := req.Clone(context.Background())
				r.Body = nopBody{bytes.NewReader(body)}
				r.ContentLength = int64(len(body)) // as net/http's server sets it
				clear(w.h)
				w.status = 0
				s.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
			waitPosts(b, received)
		})
	}
}

// dialReaders opens n WebSocket clients that count the messages they read.
func dialReaders(tb testing.TB, wsURL string, n int) *atomic.Int64 {
	tb.Helper()
	var received atomic.Int64
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 5 * time.Second}
	for range n {
		c, _, err := d.Dial(wsURL, nil)
		if err != nil {
			tb.Fatalf("dial: %v", err)
		}
		tb.Cleanup(func() { c.Close() })
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	return &received
}

type discardResponse struct {
	h      http.Header
	status int
}

func (w *discardResponse) Header() http.Header { return w.h }
func (w *discardResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *discardResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1 // nearest rank
	return s[max(0, min(len(s)-1, i))]
}

func sha256Hex(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summary(ds []time.Duration) string {
	return fmt.Sprintf("min %.1f / median %.1f / p90 %.1f / max %.1f ms",
		ms(quantile(ds, 0)), ms(quantile(ds, 0.5)), ms(quantile(ds, 0.9)), ms(quantile(ds, 1)))
}

// waitPosts waits, at most 30 s, until the benchmark's b.N posts have
// arrived (*arrived counts them).
func waitPosts(b *testing.B, arrived *atomic.Int64) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for arrived.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d posts delivered", arrived.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
