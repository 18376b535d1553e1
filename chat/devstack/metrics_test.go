package devstack_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/chat"
)

// scrapeStack GETs the stack's /metrics and parses the samples.
func scrapeStack(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			t.Fatalf("not a sample: %q", line)
		}
		out[name] = f
	}
	return out
}

// TestStackMetrics: after a broadcast that goes through the fan-out queue
// (one batch failing once), /metrics serves the chat routes' invocations,
// the fan-out queue's counters and the store's call latency.
func TestStackMetrics(t *testing.T) {
	t.Parallel()
	probe := &fanoutProbe{}
	st := startFanoutStack(t, chat.Config{FanoutThreshold: 2, FanoutBatchSize: 2}, probe)
	roomID, members := fillRoom(t, st, 5)
	flushQueue(t, st)
	before := scrapeStack(t, st.Addr())
	probe.mu.Lock()
	probe.failOnce = true
	probe.mu.Unlock()
	var msg struct {
		MessageID string `json:"messageId"`
	}
	json.Unmarshal(members[0].do(t, "sendMessage", map[string]any{"roomId": roomID, "content": "hello"}), &msg)
	waitAll(t, members, msg.MessageID)
	flushQueue(t, st)
	m := scrapeStack(t, st.Addr())
	const fn = `integration="go",function="chat.(*Service).Message"`
	delta := func(name string) float64 { return m[name] - before[name] }
	for name, want := range map[string]float64{
		`switchboard_route_invocations_total{route="sendMessage",` + fn + `}`:      1,
		`switchboard_route_errors_total{route="sendMessage",` + fn + `}`:           0,
		`switchboard_route_duration_seconds_count{route="sendMessage",` + fn + `}`: 1,
		`switchboard_queue_sent_total{queue="switchboard-fanout"}`:                 3, // 5 members in batches of 2
		`switchboard_queue_dead_letters_total{queue="switchboard-fanout"}`:         0,
		`switchboard_store_duration_seconds_count{operation="SendMessage"}`:        1,
		`switchboard_store_errors_total{operation="SendMessage"}`:                  0,
	} {
		if got := delta(name); got != want {
			t.Errorf("%s went up by %v (now %v, served %v), want %v", name, got, m[name], hasKey(m, name), want)
		}
	}
	// The failed invocation's records (1 to 3, as the batches were taken)
	// are retried, once each.
	retries, failed := delta(`switchboard_queue_retries_total{queue="switchboard-fanout"}`), delta(`switchboard_queue_failed_total{queue="switchboard-fanout"}`)
	if retries < 1 || retries > 3 || retries != failed {
		t.Errorf("queue retries went up by %v, failed receives by %v: want the same, 1 to 3", retries, failed)
	}
	if m[`switchboard_route_invocations_total{route="$connect",integration="go",function="chat.(*Service).Connect"}`] != 5 {
		t.Errorf("$connect invocations: %v", m)
	}
	if m[`switchboard_queue_depth{queue="switchboard-fanout"}`] != 0 || m[`switchboard_queue_in_flight{queue="switchboard-fanout"}`] != 0 {
		t.Errorf("queue not drained: depth %v, in flight %v", m[`switchboard_queue_depth{queue="switchboard-fanout"}`], m[`switchboard_queue_in_flight{queue="switchboard-fanout"}`])
	}
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }
