package queue_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/eventsource/filter"
	"github.com/switchboard-ws/switchboard/queue"
)

// TestLocalFilter: messages that match none of the FilterCriteria are
// deleted without invoking the function, as Lambda does for SQS; a JSON
// body is matched as JSON, a plain body as a string; the others are
// delivered (and retried) as usual.
func TestLocalFilter(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile([]string{
		`{"body": {"kind": ["keep"], "n": [{"numeric": [">", 1]}]}}`,
		`{"body": [{"prefix": "plain keep"}]}`,
		`{"body": ["42"]}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{fail: func() func(rec events.SQSMessage) bool {
		failed := false
		return func(rec events.SQSMessage) bool {
			// The first delivery of one message fails: it comes again.
			if rec.Body == `{"kind": "keep", "n": 3}` && !failed {
				failed = true
				return true
			}
			return false
		}
	}()}
	q := queue.NewLocal(r.handle, queue.LocalOptions{BatchSize: 4, RetryDelay: time.Millisecond, Filter: f, Logger: quiet})
	t.Cleanup(func() { q.Close(context.Background()) })
	bodies := []string{
		`{"kind": "keep", "n": 2}`,
		`{"kind": "drop", "n": 2}`,
		`{"kind": "keep", "n": 1}`,
		`plain keep me`,
		`plain drop me`,
		`{"kind": "keep", "n": 3}`,
		`42`,           // JSON, but not an object or a list: matched as a plain string
		`"plain keep"`, // the same: it begins with a quote
		`["plain keep"]`,
		`not {"kind": "keep"}`,
	}
	for _, b := range bodies {
		if err := q.Send(context.Background(), [][]byte{[]byte(b)}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, q)
	got := r.received()
	want := map[string][]string{
		`{"kind": "keep", "n": 2}`: {"1"},
		`plain keep me`:            {"1"},
		`{"kind": "keep", "n": 3}`: {"1", "2"},
		`42`:                       {"1"},
	}
	if len(got) != len(want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	for body, receives := range want {
		if !slices.Equal(got[body], receives) {
			t.Errorf("%s: receives %v, want %v", body, got[body], receives)
		}
	}
	s := q.Stats()
	if s.Filtered != 6 || s.Pending != 0 || s.DeadLettered != 0 || s.Deleted != 4 || s.Sent != 10 {
		t.Errorf("stats %+v: want 6 filtered, 4 deleted, none pending", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.batches {
		if len(b) == 0 {
			t.Errorf("invocation %d is empty", i+1)
		}
	}
}

// TestLocalFilterNothingMatches: a batch that filters to nothing invokes
// nothing, and the queue drains.
func TestLocalFilterNothingMatches(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile([]string{`{"body": {"kind": ["keep"]}}`})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	q := queue.NewLocal(r.handle, queue.LocalOptions{Filter: f, Logger: quiet})
	t.Cleanup(func() { q.Close(context.Background()) })
	for range 25 {
		if err := q.Send(context.Background(), [][]byte{[]byte(`{"kind": "drop"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, q)
	if n := len(r.received()); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
	if s := q.Stats(); s.Filtered != 25 || s.Received != 0 || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
}
