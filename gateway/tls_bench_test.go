package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/localca"
	"github.com/switchboard-ws/switchboard/internal/tlsmux"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// BenchmarkFanoutTLS compares, in one run, the broadcast of one ~100-byte
// message to SWITCHBOARD_BENCH_CONNS connections (default 10000) over ws
// and over wss, on a listener that answers both (package tlsmux) as serve
// and dev do. The two fleets take turns (one process cannot hold both: the
// descriptor limit), ws first; each phase reports its connect time (the
// fleet's 32 dialers, handshakes included) and the median time to the last
// delivery over SWITCHBOARD_BENCH_ROUNDS rounds (default 30). Run with
// -benchtime 1x.
func BenchmarkFanoutTLS(b *testing.B) {
	n := benchEnvInt(b, "SWITCHBOARD_BENCH_CONNS", 10000)
	rounds := benchEnvInt(b, "SWITCHBOARD_BENCH_ROUNDS", 30)
	ca, _, err := localca.Load(filepath.Join(b.TempDir(), "ca"))
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	type result struct {
		connect time.Duration
		fanout  []time.Duration
	}
	phase := func(scheme string) result {
		s, err := New(Options{Stage: "dev", Limits: Limits{ConnectRate: -1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ln := tlsmux.New(inner, tlsmux.Options{TLS: cfg})
		hs := &http.Server{Handler: s}
		go hs.Serve(ln)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.Shutdown(ctx)
			hs.Close()
		}()
		start := time.Now()
		f := startFleet(b, scheme+"://"+ln.Addr().String()+"/dev", n)
		defer f.stop()
		at, err := f.await(fmt.Sprintf("ready %d", n), 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		r := result{connect: at.Sub(start)}
		waitConnections(b, s, n, 30*time.Second)
		var (
			conns []*conn
			ids   []string
		)
		s.reg.each(func(c *conn) {
			conns = append(conns, c)
			ids = append(ids, c.meta.id)
		})
		for k := range rounds {
			frame := wsproto.TextFrame(benchPayload(k, benchMessageBytes))
			settle(b, conns)
			start := time.Now()
			if gone := s.PostFrame(context.Background(), ids, frame); len(gone) > 0 {
				b.Fatalf("%s round %d: %d connections gone", scheme, k, len(gone))
			}
			at, err := f.await(fmt.Sprintf("done %d", k), time.Minute)
			if err != nil {
				b.Fatalf("%s round %d: %v", scheme, k, err)
			}
			r.fanout = append(r.fanout, at.Sub(start))
		}
		return r
	}
	b.ResetTimer()
	plain := phase("ws")
	secure := phase("wss")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(quantile(plain.fanout, 0.5)), "ws-ms")
	b.ReportMetric(ms(quantile(secure.fanout, 0.5)), "wss-ms")
	b.ReportMetric(float64(quantile(secure.fanout, 0.5))/float64(quantile(plain.fanout, 0.5)), "wss/ws")
	b.ReportMetric(plain.connect.Seconds(), "ws-connect-s")
	b.ReportMetric(secure.connect.Seconds(), "wss-connect-s")
	b.Logf("%d connections, %d rounds\n  ws:  connect %v, fan-out %s\n  wss: connect %v, fan-out %s",
		n, rounds, plain.connect.Round(time.Millisecond), summary(plain.fanout), secure.connect.Round(time.Millisecond), summary(secure.fanout))
}
