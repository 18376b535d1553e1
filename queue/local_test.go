package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/queue"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func flush(t *testing.T, q *queue.Local) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, q.Stats())
	}
}

// recorder is a handler that records every record it sees and fails the
// bodies fail says to fail, on the receives it names.
type recorder struct {
	mu      sync.Mutex
	batches [][]events.SQSMessage
	fail    func(rec events.SQSMessage) bool
}

func (r *recorder) handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	r.mu.Lock()
	r.batches = append(r.batches, ev.Records)
	r.mu.Unlock()
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		if r.fail != nil && r.fail(rec) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

func (r *recorder) received() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, b := range r.batches {
		for _, rec := range b {
			out[rec.Body] = append(out[rec.Body], rec.Attributes["ApproximateReceiveCount"])
		}
	}
	return out
}

func bodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("body-%d", i))
	}
	return out
}

func TestLocalDeliversInBatchesWithSQSRecords(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	q := queue.NewLocal(r.handle, queue.LocalOptions{Name: "fan", BatchSize: 4, Concurrency: 2, Logger: quiet})
	defer q.Close(context.Background())
	if err := q.Send(context.Background(), bodies(25)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	got := r.received()
	if len(got) != 25 {
		t.Fatalf("%d distinct bodies delivered, want 25", len(got))
	}
	for body, receives := range got {
		if len(receives) != 1 || receives[0] != "1" {
			t.Fatalf("%s delivered %v", body, receives)
		}
	}
	for _, b := range r.batches {
		if len(b) > 4 {
			t.Fatalf("batch of %d records, batch size 4", len(b))
		}
		rec := b[0]
		if rec.EventSource != "aws:sqs" || rec.EventSourceARN != "arn:aws:sqs:us-east-1:000000000000:fan" || rec.MessageId == "" ||
			rec.ReceiptHandle == "" || rec.Md5OfBody == "" || rec.Attributes["SentTimestamp"] == "" || rec.AWSRegion != "us-east-1" {
			t.Fatalf("record %+v", rec)
		}
	}
	if s := q.Stats(); s.Sent != 25 || s.Deleted != 25 || s.Pending != 0 || s.DeadLettered != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLocalRetriesFailedRecordsOnly(t *testing.T) {
	t.Parallel()
	r := &recorder{fail: func(rec events.SQSMessage) bool {
		return rec.Body == "body-3" && rec.Attributes["ApproximateReceiveCount"] == "1"
	}}
	q := queue.NewLocal(r.handle, queue.LocalOptions{BatchSize: 10, RetryDelay: time.Millisecond, Logger: quiet})
	defer q.Close(context.Background())
	q.Send(context.Background(), bodies(5))
	flush(t, q)
	got := r.received()
	for body, receives := range got {
		want := "[1]"
		if body == "body-3" {
			want = "[1 2]"
		}
		if fmt.Sprint(receives) != want {
			t.Fatalf("%s received %v, want %s", body, receives, want)
		}
	}
	if len(q.DeadLetters()) != 0 {
		t.Fatalf("dead letters %+v", q.DeadLetters())
	}
}

func TestLocalDeadLettersAfterMaxReceives(t *testing.T) {
	t.Parallel()
	calls := 0
	var mu sync.Mutex
	h := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		if strings.Contains(ev.Records[0].Body, "poison") {
			return events.SQSEventResponse{}, errors.New("cannot handle poison")
		}
		return events.SQSEventResponse{}, nil
	}
	q := queue.NewLocal(h, queue.LocalOptions{BatchSize: 1, MaxReceiveCount: 3, RetryDelay: time.Millisecond, Logger: quiet})
	defer q.Close(context.Background())
	q.Send(context.Background(), [][]byte{[]byte("poison"), []byte("fine")})
	flush(t, q)
	dl := q.DeadLetters()
	if len(dl) != 1 || dl[0].Body != "poison" || dl[0].Receives != 3 || !strings.Contains(dl[0].Err, "cannot handle poison") {
		t.Fatalf("dead letters %+v", dl)
	}
	if calls != 4 {
		t.Fatalf("%d invocations, want 3 for poison + 1", calls)
	}
	if s := q.Stats(); s.DeadLettered != 1 || s.Deleted != 1 || s.Failed != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLocalWholeBatchFailures(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]queue.Handler{
		"error": func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("boom")
		},
		"panic": func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) { panic("boom") },
		"unknown identifier": func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
		},
		"empty identifier": func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{}}}, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			q := queue.NewLocal(h, queue.LocalOptions{BatchSize: 10, MaxReceiveCount: 2, RetryDelay: time.Millisecond, Logger: quiet})
			defer q.Close(context.Background())
			q.Send(context.Background(), bodies(3))
			flush(t, q)
			if dl := q.DeadLetters(); len(dl) != 3 {
				t.Fatalf("%d dead letters, want all 3", len(dl))
			}
		})
	}
}

func TestLocalRefusesWhatSQSRefuses(t *testing.T) {
	t.Parallel()
	q := queue.NewLocal(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}, queue.LocalOptions{Logger: quiet})
	ctx := context.Background()
	if err := q.Send(ctx, [][]byte{[]byte("ok"), make([]byte, queue.MaxMessageBytes+1)}); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("oversized body: %v", err)
	}
	if err := q.Send(ctx, [][]byte{{}}); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("empty body: %v", err)
	}
	if s := q.Stats(); s.Sent != 0 {
		t.Fatalf("a refused Send enqueued %d", s.Sent)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, bodies(1)); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestLocalCloseWaitsForPending(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var done sync.WaitGroup
	done.Add(1)
	h := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		<-release
		done.Done()
		return events.SQSEventResponse{}, nil
	}
	q := queue.NewLocal(h, queue.LocalOptions{Logger: quiet})
	q.Send(context.Background(), bodies(1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 messages pending") {
		t.Fatalf("close with a message in flight: %v", err)
	}
	close(release)
	done.Wait()
}
