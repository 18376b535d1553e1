package gateway

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkMessageObserve is the per-message cost of the access line and
// the route metrics: the line written (text, to io.Discard: formatting
// only, no syscall), the line off (level), and the metrics alone.
func BenchmarkMessageObserve(b *testing.B) {
	for _, bc := range []struct {
		name  string
		level slog.Level
		al    AccessLog
	}{
		{"line-text", slog.LevelInfo, AccessLog{}},
		{"line-json", slog.LevelInfo, AccessLog{}},
		{"line-debug-level", slog.LevelInfo, AccessLog{MessageLevel: slog.LevelDebug}},
		{"off", slog.LevelInfo, AccessLog{Off: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h slog.Handler = slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: bc.level})
			if bc.name == "line-json" {
				h = slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: bc.level})
			}
			s := &Server{log: slog.New(h), opts: Options{AccessLog: bc.al},
				obs: newObservability(map[string]Route{"sendMessage": {Integration: HandlerFunc(nil)}})}
			c := &conn{meta: connMeta{id: newID()}}
			reqID := newID()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					start := time.Now()
					d := time.Since(start)
					rs := s.obs.route("sendMessage")
					rs.observe(d, outcomeOK)
					s.logMessage(c, rs, reqID, d, outcomeOK, 200, nil)
				}
			})
		})
	}
}
