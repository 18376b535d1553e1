package gateway

import (
	"context"
	"net/http"
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
func BenchmarkManagementPostConcurrent(b *testing.B) {
	b.Run("anonymous", func(b *testing.B) { benchManagementPostConcurrent(b, false) })
	b.Run("sigv4", func(b *testing.B) { benchManagementPostConcurrent(b, true) })
}

func benchManagementPostConcurrent(b *testing.B, signed bool) {
	opts := Options{}
	if signed {
		opts.Credentials = benchCredentials
	}
	s, wsURL := startBenchGateway(b, opts)
	received := labeledReaders(b, wsURL, benchPosters)
	waitConnections(b, s, benchPosters, 10*time.Second)
	var ids []string
	s.reg.each(func(c *conn) { ids = append(ids, c.meta.id) })

	mopts := apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String("http" + strings.TrimPrefix(wsURL, "ws")),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = benchPosters
		}),
	}
	if signed {
		for k, v := range benchCredentials {
			mopts.Credentials = credentials.NewStaticCredentialsProvider(k, v, "")
		}
	}
	mgmt := apigatewaymanagementapi.New(mopts)
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
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d posts delivered", received.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
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
