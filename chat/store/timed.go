package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// StoreLatencyBuckets are the upper bounds, in seconds, of the store
// latency histogram (switchboard_store_duration_seconds).
var StoreLatencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}

// Timed is a Store that measures its calls' latency per operation, and
// counts the calls that failed (with an error that is not one of the
// package's answers, such as ErrNotFound). Every update is atomic: no lock.
// It does not pass on the optional interfaces (Sweeper, NodeSweeper): whoever
// needs them keeps the store it wrapped; but it is a
// TenantConnectionCounter whatever it wraps.
type Timed struct {
	s   Store
	ops [numTimedOps]timedStats
}

var (
	_ Store                   = (*Timed)(nil)
	_ TenantConnectionCounter = (*Timed)(nil)
)

// CountTenantConnections implements TenantConnectionCounter, timed (under
// TenantConnections): with the wrapped store's own count when it has one,
// otherwise by reading the tenant's connections.
func (t *Timed) CountTenantConnections(ctx context.Context, tenantID string, max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	start := time.Now()
	var n int
	var err error
	if c, ok := t.s.(TenantConnectionCounter); ok {
		n, err = c.CountTenantConnections(ctx, tenantID, max)
	} else {
		var cs []Connection
		cs, err = t.s.TenantConnections(ctx, tenantID)
		n = min(len(cs), max)
	}
	t.ops[opTenantConnections].observe(time.Since(start), err)
	return n, err
}

// NewTimed wraps s.
func NewTimed(s Store) *Timed { return &Timed{s: s} }

// Close closes the wrapped store.
func (t *Timed) Close() error { return t.s.Close() }

type timedStats struct {
	buckets [len(StoreLatencyBuckets) + 1]atomic.Uint64 // not cumulative; the last is +Inf
	sum     atomic.Int64                                // nanoseconds
	errors  atomic.Uint64
	_       [40]byte
}

// answers are the errors that are a store's answer, not a failure.
var answers = []error{ErrNotFound, ErrExists, ErrNotAuthor, ErrDeleted, ErrCursor, ErrNotMember, ErrConnectionLimit, ErrRoomLimit}

func (ts *timedStats) observe(d time.Duration, err error) {
	s := d.Seconds()
	i := 0
	for i < len(StoreLatencyBuckets) && s > StoreLatencyBuckets[i] {
		i++
	}
	ts.buckets[i].Add(1)
	ts.sum.Add(int64(d))
	if err != nil && !isAnswer(err) {
		ts.errors.Add(1)
	}
}

func isAnswer(err error) bool {
	for _, a := range answers {
		if errors.Is(err, a) {
			return true
		}
	}
	return false
}

// WriteMetrics writes switchboard_store_duration_seconds{operation} (a
// histogram) and switchboard_store_errors_total{operation} in the
// Prometheus text format, for the operations called at least once.
func (t *Timed) WriteMetrics(w io.Writer) {
	const h = "switchboard_store_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Chat store call latency, by operation.\n# TYPE %s histogram\n", h, h)
	counts := [numTimedOps]uint64{}
	for op := range t.ops {
		ts := &t.ops[op]
		var cum uint64
		var lines [len(StoreLatencyBuckets) + 1]uint64
		for i := range ts.buckets {
			cum += ts.buckets[i].Load()
			lines[i] = cum
		}
		counts[op] = cum
		if cum == 0 {
			continue
		}
		name := timedOpNames[op]
		for i, ub := range StoreLatencyBuckets {
			fmt.Fprintf(w, "%s_bucket{operation=%q,le=%q} %d\n", h, name, strconv.FormatFloat(ub, 'g', -1, 64), lines[i])
		}
		fmt.Fprintf(w, "%s_bucket{operation=%q,le=\"+Inf\"} %d\n", h, name, cum)
		fmt.Fprintf(w, "%s_sum{operation=%q} %s\n", h, name, strconv.FormatFloat(time.Duration(ts.sum.Load()).Seconds(), 'g', -1, 64))
		fmt.Fprintf(w, "%s_count{operation=%q} %d\n", h, name, cum)
	}
	fmt.Fprintf(w, "# HELP switchboard_store_errors_total Chat store calls that failed (not counting answers such as not found), by operation.\n# TYPE switchboard_store_errors_total counter\n")
	for op := range t.ops {
		if counts[op] == 0 {
			continue
		}
		fmt.Fprintf(w, "switchboard_store_errors_total{operation=%q} %d\n", timedOpNames[op], t.ops[op].errors.Load())
	}
}
