package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// mem reads a target's memory: /proc/PID/status when its process is
// known, and for Switchboard also its metrics endpoint (GET /metrics on
// the server's address), which gives heap and stacks exactly and, without
// a process id, the resident memory too. nil if neither can be read.
func (t *Target) mem() *procStatus {
	if len(t.nodes) > 0 {
		return sumStatus(t.nodeMems())
	}
	var st *procStatus
	if t.PID != 0 {
		if s, err := readProcStatus(t.PID); err == nil {
			st = &s
		}
	}
	if t.Name != TargetSwitchboard {
		return st
	}
	u, err := metricsURL(t.URL)
	if err != nil {
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := readMetrics(ctx, u)
	if err != nil {
		return st
	}
	if st == nil {
		st = &procStatus{At: time.Now().UnixNano(), VmRSS: int64(m["process_resident_memory_bytes"]),
			RssAnon: int64(m["process_resident_anon_memory_bytes"]), VmHWM: int64(m["process_resident_memory_max_bytes"]),
			FromMetrics: true}
	}
	st.HeapInuse = int64(m["go_memstats_heap_inuse_bytes"])
	st.StackInuse = int64(m["go_memstats_stack_inuse_bytes"])
	st.Goroutines = int64(m["go_goroutines"])
	return st
}

// metricsURL is the metrics endpoint beside a WebSocket URL:
// ws://HOST/STAGE gives http://HOST/metrics.
func metricsURL(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("not a WebSocket URL: %s", wsURL)
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = gateway.MetricsPath, "", "", ""
	return u.String(), nil
}

// readMetrics GETs a Prometheus text endpoint and returns its samples
// without labels, by name.
func readMetrics(ctx context.Context, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return out, nil
}
