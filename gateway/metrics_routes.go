package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLatencyBuckets are the upper bounds, in seconds, of the route
// latency histogram's buckets (switchboard_route_duration_seconds).
var DefaultLatencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// bucketNanos are DefaultLatencyBuckets in nanoseconds.
var bucketNanos = func() (b [len(DefaultLatencyBuckets)]int64) {
	for i, s := range DefaultLatencyBuckets {
		b[i] = int64(s * float64(time.Second))
	}
	return b
}()

// histogram is a latency histogram whose updates are atomic adds: a count
// per bucket (not cumulative; the scrape sums them), the sum and the count.
type histogram struct {
	buckets [len(DefaultLatencyBuckets) + 1]atomic.Uint64 // the last is +Inf
	sum     atomic.Int64                                  // nanoseconds
	count   counter
}

func (h *histogram) observe(d time.Duration) {
	n := int64(d)
	i := 0
	for i < len(bucketNanos) && n > bucketNanos[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(n)
	h.count.Add(1)
}

// routeStats are one route's counters. They are made in New, one per route,
// and only read from s.obs.routes afterwards: updating them takes no lock.
type routeStats struct {
	route, kind, name string
	invocations       counter
	errors            counter
	timeouts          counter
	latency           histogram
}

// observe counts one invocation of the route.
func (rs *routeStats) observe(d time.Duration, outcome string) {
	rs.invocations.Add(1)
	switch outcome {
	case outcomeError:
		rs.errors.Add(1)
	case outcomeTimeout:
		rs.timeouts.Add(1)
	}
	rs.latency.observe(d)
}

// observability holds the per-route metrics, the refused handshakes and
// the metrics other parts of the process add to /metrics.
type observability struct {
	routes   map[string]*routeStats // read-only after New
	unrouted counter                // messages no route matched (Forbidden)
	refusals [600]atomic.Uint64     // refused handshakes by HTTP status

	mu     sync.Mutex
	extras []func(io.Writer)
}

// newObservability makes the counters of routes.
func newObservability(routes map[string]Route) *observability {
	o := &observability{routes: make(map[string]*routeStats, len(routes))}
	for key, r := range routes {
		kind, name := describe(r.Integration)
		o.routes[key] = &routeStats{route: key, kind: kind, name: name}
	}
	return o
}

// route returns a route's counters (nil for a route not configured).
func (o *observability) route(key string) *routeStats { return o.routes[key] }

// refused counts a handshake refused with status.
func (o *observability) refused(status int) {
	if status < 0 || status >= len(o.refusals) {
		status = 0
	}
	o.refusals[status].Add(1)
}

// AddMetrics adds write to what MetricsHandler serves: it is called on
// every scrape and writes metric families in the Prometheus text format
// (HELP and TYPE lines included), names not used by the gateway. The fan-out
// queue's metrics come this way (queue.WriteMetrics).
func (s *Server) AddMetrics(write func(w io.Writer)) {
	s.obs.mu.Lock()
	s.obs.extras = append(s.obs.extras, write)
	s.obs.mu.Unlock()
}

// writeExtraMetrics writes what AddMetrics added.
func (s *Server) writeExtraMetrics(w io.Writer) {
	s.obs.mu.Lock()
	extras := slices.Clone(s.obs.extras)
	s.obs.mu.Unlock()
	for _, write := range extras {
		write(w)
	}
}

// alwaysShownRefusals are the statuses of switchboard_handshakes_refused_total
// served even at zero, so that dashboards and alerts find them.
var alwaysShownRefusals = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests, http.StatusServiceUnavailable}

// writeRouteMetrics writes the per-route metrics and the refused
// handshakes.
func (s *Server) writeRouteMetrics(w io.Writer) {
	o := s.obs
	keys := make([]string, 0, len(o.routes))
	for k := range o.routes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	labels := func(rs *routeStats) string {
		return `route="` + LabelValue(rs.route) + `",integration="` + LabelValue(rs.kind) + `",function="` + LabelValue(rs.name) + `"`
	}
	family := func(name, typ, help string, v func(*routeStats) uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, k := range keys {
			rs := o.routes[k]
			fmt.Fprintf(w, "%s{%s} %d\n", name, labels(rs), v(rs))
		}
	}
	family("switchboard_route_invocations_total", "counter", "Route integration invocations ($connect, $disconnect and message routes), by route and integration.",
		func(rs *routeStats) uint64 { return rs.invocations.Load() })
	family("switchboard_route_errors_total", "counter", "Route integration invocations that failed (an error, a crash, a panic), by route and integration.",
		func(rs *routeStats) uint64 { return rs.errors.Load() })
	family("switchboard_route_timeouts_total", "counter", "Route integration invocations that did not answer within their timeout, by route and integration.",
		func(rs *routeStats) uint64 { return rs.timeouts.Load() })
	const hname = "switchboard_route_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Route integration latency, from the call to its answer (or its timeout).\n# TYPE %s histogram\n", hname, hname)
	for _, k := range keys {
		rs := o.routes[k]
		l := labels(rs)
		var cum uint64
		for i, ub := range DefaultLatencyBuckets {
			cum += rs.latency.buckets[i].Load()
			fmt.Fprintf(w, "%s_bucket{%s,le=\"%s\"} %d\n", hname, l, strconv.FormatFloat(ub, 'g', -1, 64), cum)
		}
		cum += rs.latency.buckets[len(DefaultLatencyBuckets)].Load()
		count := rs.latency.count.Load()
		// A scrape racing an observation may see the count ahead of
		// the buckets: +Inf is the count, so that it is never less.
		fmt.Fprintf(w, "%s_bucket{%s,le=\"+Inf\"} %d\n", hname, l, max(cum, count))
		fmt.Fprintf(w, "%s_sum{%s} %s\n", hname, l, strconv.FormatFloat(time.Duration(rs.latency.sum.Load()).Seconds(), 'g', -1, 64))
		fmt.Fprintf(w, "%s_count{%s} %d\n", hname, l, max(cum, count))
	}
	fmt.Fprintf(w, "# HELP switchboard_messages_unrouted_total Messages no route matched (answered Forbidden).\n# TYPE switchboard_messages_unrouted_total counter\nswitchboard_messages_unrouted_total %d\n", o.unrouted.Load())
	fmt.Fprintf(w, "# HELP switchboard_handshakes_refused_total WebSocket handshakes refused, by HTTP status.\n# TYPE switchboard_handshakes_refused_total counter\n")
	for status := range o.refusals {
		v := o.refusals[status].Load()
		if v == 0 && !slices.Contains(alwaysShownRefusals, status) {
			continue
		}
		label := strconv.Itoa(status)
		if status == 0 {
			label = "other"
		}
		fmt.Fprintf(w, "switchboard_handshakes_refused_total{status=%q} %d\n", label, v)
	}
}

// LabelValue escapes a Prometheus label value: backslash, double quote and
// newline.
func LabelValue(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// outcomeOf names an invocation's outcome.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, errIntegrationTimeout):
		return outcomeTimeout
	}
	return outcomeError
}
