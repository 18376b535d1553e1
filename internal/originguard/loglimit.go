package originguard

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// DefaultLogsPerSecond is how many refusals a LogLimiter logs per second;
// the rest are counted and reported with the next line logged.
const DefaultLogsPerSecond = 5

// LogLimiter logs refusals at info level at most DefaultLogsPerSecond
// times a second, so that a flood of refused requests cannot flood the log:
// the next line logged says how many were left out ("suppressed"). The zero
// value is ready; it takes no lock.
type LogLimiter struct {
	sec        atomic.Int64 // the unix second being counted
	n          atomic.Int64 // lines logged in it
	suppressed atomic.Uint64
}

// Info logs msg with attrs unless this second's lines are used up.
func (l *LogLimiter) Info(log *slog.Logger, msg string, attrs ...any) {
	now := time.Now().Unix()
	if old := l.sec.Load(); old != now && l.sec.CompareAndSwap(old, now) {
		l.n.Store(0)
	}
	if l.n.Add(1) > DefaultLogsPerSecond {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	log.Log(context.Background(), slog.LevelInfo, msg, attrs...)
}
