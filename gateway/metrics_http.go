package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
)

// MetricsPath is where Server.WithMetrics serves the metrics.
const MetricsPath = "/metrics"

// WithMetrics returns a handler that serves GET MetricsPath with
// MetricsHandler and everything else with s (unless the stage itself is
// at MetricsPath).
func (s *Server) WithMetrics() http.Handler {
	mh := s.MetricsHandler()
	if "/"+s.opts.Stage == MetricsPath {
		return s
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetricsPath {
			mh.ServeHTTP(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
}

// MetricsHandler serves the server's metrics, and the process's memory
// and goroutines, in the Prometheus text format (docs/metrics.md). Like the
// management API without credentials, it answers only loopback clients
// whose request did not come through a proxy, with a Host that names this
// gateway and from no other origin (Protect).
func (s *Server) MetricsHandler() http.Handler {
	return s.Protect("metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var b bytes.Buffer
		s.writeMetrics(&b)
		if cm, ok := s.cluster.(ClusterMetrics); ok {
			cm.WriteMetrics(&b)
		}
		s.writeExtraMetrics(&b)
		writeProcessMetrics(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.Write(b.Bytes())
	}))
}

// runtimeSamples are the runtime/metrics behind the Go metrics.
var runtimeSamples = []struct{ name, metric, typ, help string }{
	{"/memory/classes/heap/objects:bytes", "go_memory_heap_objects_bytes", "gauge", "Heap memory occupied by live objects and dead ones not yet swept."},
	{"/memory/classes/heap/unused:bytes", "go_memory_heap_unused_bytes", "gauge", "Heap memory reserved for objects but not in use (HeapInuse is this plus objects)."},
	{"/memory/classes/heap/stacks:bytes", "go_memory_stacks_bytes", "gauge", "Goroutine stacks (StackInuse)."},
	{"/memory/classes/total:bytes", "go_memory_mapped_bytes", "gauge", "All memory mapped by the Go runtime."},
	{"/sched/goroutines:goroutines", "go_goroutines", "gauge", "Goroutines that exist now."},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "counter", "Completed GC cycles."},
}

// writeProcessMetrics writes the Go runtime's memory and goroutines and
// the process's resident memory (Linux: /proc/self/status).
func writeProcessMetrics(w io.Writer) {
	samples := make([]rtmetrics.Sample, len(runtimeSamples))
	for i, rs := range runtimeSamples {
		samples[i].Name = rs.name
	}
	rtmetrics.Read(samples)
	values := map[string]uint64{}
	for i, rs := range runtimeSamples {
		if samples[i].Value.Kind() != rtmetrics.KindUint64 {
			continue
		}
		v := samples[i].Value.Uint64()
		values[rs.name] = v
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", rs.metric, rs.help, rs.metric, rs.typ, rs.metric, v)
	}
	inuse := values["/memory/classes/heap/objects:bytes"] + values["/memory/classes/heap/unused:bytes"]
	fmt.Fprintf(w, "# HELP go_memstats_heap_inuse_bytes Heap spans in use (runtime.MemStats.HeapInuse).\n# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes %d\n", inuse)
	fmt.Fprintf(w, "# HELP go_memstats_stack_inuse_bytes Stack spans in use (runtime.MemStats.StackInuse).\n# TYPE go_memstats_stack_inuse_bytes gauge\ngo_memstats_stack_inuse_bytes %d\n", values["/memory/classes/heap/stacks:bytes"])

	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return // not Linux
	}
	for _, f := range []struct{ field, metric, help string }{
		{"VmRSS", "process_resident_memory_bytes", "Resident memory (VmRSS)."},
		{"RssAnon", "process_resident_anon_memory_bytes", "Resident anonymous memory (RssAnon): heap and stacks, whatever the runtime has not returned."},
		{"VmHWM", "process_resident_memory_max_bytes", "Peak resident memory (VmHWM)."},
	} {
		if v, ok := statusField(status, f.field); ok {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", f.metric, f.help, f.metric, f.metric, v)
		}
	}
}

// statusField reads a "Name:   123 kB" line of /proc/self/status, in bytes.
func statusField(status []byte, name string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, true
	}
	return 0, false
}
