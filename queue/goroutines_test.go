package queue_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// goroutinesOf returns the stacks of the goroutines running a method of q
// (a worker or a retry timer's function): tracebacks print the receiver,
// so the queues of tests running in parallel are told apart.
func goroutinesOf(q *queue.Local) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	ptr := fmt.Sprintf("(%p", q)
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.Contains(line, "queue.(*Local).") && strings.Contains(line, ptr) {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

// noGoroutinesOf fails the test if a goroutine of q still runs shortly
// after Close returned (a goroutine that told Close it is done may need a
// moment to return).
func noGoroutinesOf(t *testing.T, q *queue.Local) {
	t.Helper()
	testutil.Eventually(t, 2*time.Second, func() bool { return len(goroutinesOf(q)) == 0 },
		"the goroutines of the queue to end; still running:\n%s", strings.Join(goroutinesOf(q), "\n\n"))
}

func TestLocalGoroutinesSeenByTheCheck(t *testing.T) {
	t.Parallel()
	q := queue.NewLocal(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}, queue.LocalOptions{Logger: quiet, Concurrency: 3})
	// The check must see the workers while the queue is open, or it would
	// prove nothing after Close (a worker is seen once it ran).
	testutil.Eventually(t, 5*time.Second, func() bool { return len(goroutinesOf(q)) == 3 },
		"the check to see the 3 workers of an open queue")
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	noGoroutinesOf(t, q)
}

func TestLocalCloseWaitsForRetriesAndLeavesNoGoroutine(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	q := queue.NewLocal(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		// Every message fails its first two receives.
		calls.Add(1)
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if r.Attributes["ApproximateReceiveCount"] != "3" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}, queue.LocalOptions{Logger: quiet, RetryDelay: 5 * time.Millisecond, Concurrency: 2, BatchSize: 1})
	if err := q.Send(context.Background(), bodies(10)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close with retries pending: %v", err)
	}
	if s := q.Stats(); s.Deleted != 10 || s.Pending != 0 {
		t.Fatalf("after Close: %+v, want the 10 messages deleted after their retries", s)
	}
	if n := calls.Load(); n != 30 {
		t.Fatalf("the handler ran %d times, want 30 (3 receives of 10 messages)", n)
	}
	noGoroutinesOf(t, q)
}

func TestLocalCloseStopsRetryTimers(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	q := queue.NewLocal(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		calls.Add(1)
		return events.SQSEventResponse{}, fmt.Errorf("always fails")
	}, queue.LocalOptions{Logger: quiet, RetryDelay: 30 * time.Millisecond})
	if err := q.Send(context.Background(), bodies(3)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return q.Stats().Failed == 3 }, "the first receive of the 3 messages to fail")
	// Their retries are due in 30ms; Close gives up before that.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := q.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 messages pending (0 handlers still running)") {
		t.Fatalf("Close with 3 retries pending and a cancelled context: %v", err)
	}
	noGoroutinesOf(t, q)
	before := calls.Load()
	// Past the retry delay, no timer has put a message back. (Waiting out
	// the delay is the only way to see that a timer does not fire.)
	<-time.After(100 * time.Millisecond)
	if n := calls.Load(); n != before {
		t.Fatalf("the handler ran %d more times after Close", n-before)
	}
	if s := q.Stats(); s.Received != 3 {
		t.Fatalf("after Close: %+v, want 3 receives", s)
	}
	noGoroutinesOf(t, q)
}

func TestLocalCloseLeavesOnlyAStuckHandler(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	var sawCancel atomic.Bool
	q := queue.NewLocal(func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		once.Do(func() { close(started) })
		<-release // ignores ctx, as user code may
		sawCancel.Store(ctx.Err() != nil)
		return events.SQSEventResponse{}, nil
	}, queue.LocalOptions{Logger: quiet, Concurrency: 4})
	if err := q.Send(context.Background(), bodies(1)); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := q.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 messages pending (1 handlers still running)") {
		t.Fatalf("Close with a stuck handler: %v", err)
	}
	// Only the stuck handler's worker is left; the three idle ones ended.
	if g := goroutinesOf(q); len(g) != 1 || !strings.Contains(g[0], "queue.(*Local).invoke") {
		t.Fatalf("after Close: %d goroutines of the queue, want the one running the handler:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	close(release)
	noGoroutinesOf(t, q)
	if !sawCancel.Load() {
		t.Fatal("the handler's context was not cancelled by Close")
	}
}
