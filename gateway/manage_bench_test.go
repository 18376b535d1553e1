package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/push"
)

// benchPosters is how many goroutines post at once in
// BenchmarkManagementPostConcurrent, as a handler posting to every
// connection with bounded concurrency does.
const benchPosters = 64

// BenchmarkManagementPostConcurrent is BenchmarkManagementPost with 64
// posters sharing one SDK client whose transport keeps a connection per
// poster (MaxIdleConnsPerHost 64; the SDK's default keeps 10, and the others
// open a new TCP connection per post), to 64 connections. Besides posts/s it
// reports the process's CPU time per post (client, gateway and readers:
// all in this process), which the machine's other load changes less than
// the rate. The posters run with the pprof label side=client (the SDK's
// transport goroutines inherit it) and the readers with side=reader, so a
// CPU profile splits client and server time:
//
//	go test -run '^$' -bench ManagementPostConcurrent/sigv4 -cpuprofile cpu.out ./gateway
//	go tool pprof -tagfocus side=client -top cpu.out   # the SDK's share
//	go tool pprof -tagignore side=client,reader -top cpu.out   # the gateway's
//
// The "-wholebody" variants hand the SDK's request bodies to net/http as a
// bytes.Reader, as examples/broadcast's handler does (push.WholeBody): one
// write per request instead of two (the header flushed first).
func BenchmarkManagementPostConcurrent(b *testing.B) {
	b.Run("anonymous", func(b *testing.B) { benchManagementPostConcurrent(b, false, false) })
	b.Run("sigv4", func(b *testing.B) { benchManagementPostConcurrent(b, true, false) })
	b.Run("anonymous-wholebody", func(b *testing.B) { benchManagementPostConcurrent(b, false, true) })
	b.Run("sigv4-wholebody", func(b *testing.B) { benchManagementPostConcurrent(b, true, true) })
}

// BenchmarkManagementPostFloor is BenchmarkManagementPostConcurrent/sigv4-
// wholebody against a bare net/http server whose handler reads the body and
// answers 200 without a gateway behind it: what the SDK and net/http's
// HTTP/1.1 cost per post on this machine, the floor of any management API
// served by net/http and called by the SDK. The handler's time is labeled
// side=server for CPU profiles.
func BenchmarkManagementPostFloor(b *testing.B) {
	var posts atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), pprof.Labels("side", "server"), func(context.Context) {
			io.Copy(io.Discard, r.Body)
			posts.Add(1)
			w.WriteHeader(http.StatusOK)
		})
	}))
	b.Cleanup(hs.Close)
	ids := make([]string, benchPosters)
	for i := range ids {
		ids[i] = newID()
	}
	mgmt := benchManagementClient(hs.URL+"/dev", true, true)
	runManagementPosts(b, mgmt, ids, &posts)
}

// BenchmarkManagementPostRaw is BenchmarkManagementPostConcurrent/anonymous
// with the lightest client instead of the SDK: benchPosters keep-alive
// connections, each writing a prepared HTTP/1.1 request in one write and
// reading the response with net/http's ReadResponse. With the client's
// share small, the rate shows what the gateway itself sustains on this
// machine, and its CPU per post (a profile's untagged samples, as in
// BenchmarkManagementPostConcurrent) what it would on cores of its own.
func BenchmarkManagementPostRaw(b *testing.B) {
	s, wsURL := startBenchGateway(b, Options{})
	received := labeledReaders(b, wsURL, benchPosters)
	waitConnections(b, s, benchPosters, 10*time.Second)
	var ids []string
	s.reg.each(func(c *conn) { ids = append(ids, c.meta.id) })
	addr := strings.TrimPrefix(strings.TrimSuffix(wsURL, "/dev"), "ws://")
	data := benchPayload(0, benchMessageBytes)

	var next atomic.Int64
	b.SetParallelism(max(1, benchPosters/max(1, testingProcs())))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		pprof.Do(context.Background(), pprof.Labels("side", "client"), func(ctx context.Context) {
			id := ids[int(next.Add(1))%len(ids)]
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Errorf("dial: %v", err)
				return
			}
			defer nc.Close()
			req := fmt.Appendf(nil, "POST /dev/@connections/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", id, addr, len(data), data)
			br := bufio.NewReader(nc)
			for pb.Next() {
				if _, err := nc.Write(req); err != nil {
					b.Errorf("write: %v", err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Errorf("read: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	})
	waitPosts(b, received)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/post")
}

// benchManagementClient is the SDK client of the management benchmarks: one
// HTTP client with an idle connection per poster (MaxIdleConnsPerHost
// benchPosters; the SDK's default keeps 10, and the others open a new TCP
// connection per post), signing with benchCredentials when signed, and
// handing request bodies over whole when wholeBody.
func benchManagementClient(endpoint string, signed, wholeBody bool) *apigatewaymanagementapi.Client {
	var hc aws.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = benchPosters
	})
	if wholeBody {
		hc = push.WholeBody(hc)
	}
	mopts := apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   hc,
	}
	if signed {
		for k, v := range benchCredentials {
			mopts.Credentials = credentials.NewStaticCredentialsProvider(k, v, "")
		}
	}
	return apigatewaymanagementapi.New(mopts)
}

func benchManagementPostConcurrent(b *testing.B, signed, wholeBody bool) {
	opts := Options{}
	if signed {
		opts.Credentials = benchCredentials
	}
	s, wsURL := startBenchGateway(b, opts)
	received := labeledReaders(b, wsURL, benchPosters)
	waitConnections(b, s, benchPosters, 10*time.Second)
	var ids []string
	s.reg.each(func(c *conn) { ids = append(ids, c.meta.id) })
	mgmt := benchManagementClient("http"+strings.TrimPrefix(wsURL, "ws"), signed, wholeBody)
	runManagementPosts(b, mgmt, ids, received)
}

// runManagementPosts posts b.N times from benchPosters goroutines (labeled
// side=client) through mgmt to ids in turn, waits until delivered counts
// b.N, and reports posts/s and the process's CPU time per post.
func runManagementPosts(b *testing.B, mgmt *apigatewaymanagementapi.Client, ids []string, delivered *atomic.Int64) {
	data := benchPayload(0, benchMessageBytes)

	var next atomic.Int64
	b.SetParallelism(max(1, benchPosters/max(1, testingProcs())))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		pprof.Do(context.Background(), pprof.Labels("side", "client"), func(ctx context.Context) {
			id := ids[int(next.Add(1))%len(ids)]
			in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data}
			for pb.Next() {
				if _, err := mgmt.PostToConnection(ctx, in); err != nil {
					b.Errorf("post: %v", err)
					return
				}
			}
		})
	})
	waitPosts(b, delivered)
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/post")
}

// testingProcs is GOMAXPROCS as RunParallel uses it.
func testingProcs() int { return runtime.GOMAXPROCS(0) }

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// labeledReaders is dialReaders with the readers labeled side=reader for
// CPU profiles.
func labeledReaders(tb testing.TB, wsURL string, n int) *atomic.Int64 {
	tb.Helper()
	var received atomic.Int64
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 5 * time.Second}
	for range n {
		c, _, err := d.Dial(wsURL, nil)
		if err != nil {
			tb.Fatalf("dial: %v", err)
		}
		tb.Cleanup(func() { c.Close() })
		go pprof.Do(context.Background(), pprof.Labels("side", "reader"), func(context.Context) {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		})
	}
	return &received
}
