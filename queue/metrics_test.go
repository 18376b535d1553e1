package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// queueMetrics parses what WriteMetrics writes.
func queueMetrics(t *testing.T, qs ...*queue.Local) map[string]float64 {
	t.Helper()
	var b bytes.Buffer
	queue.WriteMetrics(&b, qs...)
	out := map[string]float64{}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
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

// TestQueueMetrics: depth, in flight, retries and dead letters after a
// known sequence: one message held by the consumer while two wait, then
// one that fails every receive.
func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			switch r.Body {
			case "hold":
				<-release
			case "bad":
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
	q := queue.NewLocal(h, queue.LocalOptions{Name: "fan\"out", BatchSize: 1, Concurrency: 1, MaxReceiveCount: 2, RetryDelay: time.Millisecond, Logger: quiet})
	defer q.Close(context.Background())
	const l = `{queue="fan\"out"}`
	ctx := context.Background()
	if err := q.Send(ctx, [][]byte{[]byte("hold")}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return queueMetrics(t, q)["switchboard_queue_in_flight"+l] == 1 }, "the held message in flight")
	if err := q.Send(ctx, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	m := queueMetrics(t, q)
	if m["switchboard_queue_depth"+l] != 2 || m["switchboard_queue_in_flight"+l] != 1 || m["switchboard_queue_sent_total"+l] != 3 {
		t.Errorf("while one is held: %v", m)
	}
	close(release)
	if err := q.Send(ctx, [][]byte{[]byte("bad")}); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	m = queueMetrics(t, q)
	for name, want := range map[string]float64{
		"depth": 0, "in_flight": 0, "delayed": 0, "sent_total": 4, "received_total": 5, "deleted_total": 3,
		"failed_total": 2, "retries_total": 1, "dead_letters_total": 1, "filtered_total": 0,
	} {
		if got, ok := m["switchboard_queue_"+name+l]; !ok || got != want {
			t.Errorf("switchboard_queue_%s = %v (served %v), want %v", name, got, ok, want)
		}
	}
}
