package queue

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/switchboard-ws/switchboard/eventsource/filter"
)

// LocalOptions configure a Local queue; zero values take the defaults shown.
type LocalOptions struct {
	Name        string // "switchboard-fanout": the queue name in the records' eventSourceARN
	Region      string // "us-east-1"
	BatchSize   int    // 10: records per invocation (the event source mapping's batch size)
	Concurrency int    // 4: invocations at a time
	// MaxReceiveCount: deliveries of a message before it is moved to the
	// dead-letter queue (the redrive policy's maxReceiveCount). Default 3.
	MaxReceiveCount int
	// RetryDelay: when a failed message becomes visible again (on SQS, the
	// visibility timeout); it doubles with each further receive. Default 1s.
	RetryDelay time.Duration
	// Timeout bounds one invocation (the function's timeout). Default 60s.
	Timeout time.Duration
	// Filter is the event source mapping's FilterCriteria: a message whose
	// record matches none of its patterns is deleted without invoking the
	// function, as Lambda does for SQS. Nil: every message is delivered.
	Filter *filter.Filter
	Logger *slog.Logger
	Now    func() time.Time
}

func (o *LocalOptions) defaults() {
	if o.Name == "" {
		o.Name = "switchboard-fanout"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxReceiveCount <= 0 {
		o.MaxReceiveCount = 3
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DeadLetter is a message that failed MaxReceiveCount times.
type DeadLetter struct {
	MessageID string
	Body      string
	Receives  int
	Err       string // the last failure
}

// Stats counts what a Local queue did.
type Stats struct {
	Sent, Received, Failed, Deleted, DeadLettered int64
	// Filtered counts the messages deleted without invoking the function:
	// they matched none of the filters (they are not in Received).
	Filtered int64
	Pending  int // ready, in flight or waiting to be retried
}

// Local is an in-process queue with the delivery semantics that an SQS
// queue with a redrive policy and a Lambda event source mapping
// (ReportBatchItemFailures) give: records are delivered in batches to the
// handler, failed records become visible again after a delay, and a record
// received MaxReceiveCount times without success goes to the dead-letter
// list. With a Filter (FilterCriteria), messages that match none of its
// patterns are deleted without invoking the handler, as Lambda deletes
// them. Messages live in memory: they do not survive the process.
type Local struct {
	handler Handler
	opts    LocalOptions
	arn     string

	mu      sync.Mutex
	ready   []*localMessage
	wake    chan struct{} // a worker should look at ready
	idle    chan struct{} // closed and replaced when pending drops to zero
	pending int
	closed  bool
	dead    []DeadLetter
	stats   Stats
	stop    chan struct{}

	// The goroutines Close waits for: the workers (busy of them running a
	// batch; each tells workerExit as the last thing it does) and the
	// requeue timers (timers, each counted in retries until it fired or was
	// stopped; timers is nil once Close stopped them).
	busy       int
	workerExit chan struct{}
	timers     map[*time.Timer]struct{}
	retries    sync.WaitGroup
	// ctx is the parent of every invocation's context; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

type localMessage struct {
	id, body     string
	sent         time.Time
	firstReceive time.Time
	receives     int
}

var _ Sender = (*Local)(nil)

// NewLocal starts a queue that invokes h.
func NewLocal(h Handler, opts LocalOptions) *Local {
	opts.defaults()
	q := &Local{
		handler: h, opts: opts,
		arn:  fmt.Sprintf("arn:aws:sqs:%s:000000000000:%s", opts.Region, opts.Name),
		wake: make(chan struct{}, opts.Concurrency),
		idle: make(chan struct{}),
		stop: make(chan struct{}),

		workerExit: make(chan struct{}, opts.Concurrency),
		timers:     map[*time.Timer]struct{}{},
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	close(q.idle) // nothing pending yet
	for range opts.Concurrency {
		go q.work()
	}
	return q
}

// send enqueues one body and returns its message id.
func (q *Local) send(body []byte) (string, error) {
	ids, err := q.enqueue([][]byte{body})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// Send implements Sender: the bodies are accepted at once, with SQS's
// size limits (all of them, or none).
func (q *Local) Send(_ context.Context, bodies [][]byte) error {
	_, err := q.enqueue(bodies)
	return err
}

func (q *Local) enqueue(bodies [][]byte) ([]string, error) {
	for _, b := range bodies {
		if err := check(b); err != nil {
			return nil, err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	now := q.opts.Now()
	ids := make([]string, len(bodies))
	for i, b := range bodies {
		ids[i] = uuid.NewString()
		q.ready = append(q.ready, &localMessage{id: ids[i], body: string(b), sent: now})
		q.addPending(1)
	}
	q.stats.Sent += int64(len(bodies))
	q.signal()
	return ids, nil
}

// signal wakes workers for what is ready; q.mu is held.
func (q *Local) signal() {
	for n := (len(q.ready) + q.opts.BatchSize - 1) / q.opts.BatchSize; n > 0; n-- {
		select {
		case q.wake <- struct{}{}:
		default:
			return
		}
	}
}

// addPending moves the pending count; q.mu is held.
func (q *Local) addPending(n int) {
	if q.pending == 0 && n > 0 {
		q.idle = make(chan struct{})
	}
	q.pending += n
	if q.pending == 0 {
		close(q.idle)
	}
}

func (q *Local) work() {
	defer func() { q.workerExit <- struct{}{} }() // buffered for every worker
	for {
		select {
		case <-q.stop:
			return
		case <-q.wake:
		}
		for {
			batch := q.take()
			if batch == nil {
				break
			}
			q.deliver(batch)
			q.mu.Lock()
			q.busy--
			q.mu.Unlock()
		}
	}
}

// take removes up to BatchSize ready messages and counts the caller busy;
// nil once Close stopped the queue.
func (q *Local) take() []*localMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.ready), q.opts.BatchSize)
	if n == 0 || q.timers == nil {
		return nil
	}
	q.busy++
	batch := make([]*localMessage, n)
	copy(batch, q.ready)
	q.ready = append(q.ready[:0], q.ready[n:]...)
	return batch
}

func (q *Local) deliver(batch []*localMessage) {
	now := q.opts.Now()
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(batch))}
	for i, m := range batch {
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		sum := md5.Sum([]byte(m.body))
		ev.Records[i] = events.SQSMessage{
			MessageId:     m.id,
			ReceiptHandle: m.id + "#" + strconv.Itoa(m.receives),
			Body:          m.body,
			Md5OfBody:     hex.EncodeToString(sum[:]),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.Itoa(m.receives),
				"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
				"SenderId":                         "000000000000",
				"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
			},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    q.arn,
			AWSRegion:         q.opts.Region,
		}
	}
	batch, ev.Records = q.filter(batch, ev.Records)
	if len(batch) == 0 {
		return
	}
	failed, cause := q.invoke(ev)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Received += int64(len(batch))
	for _, m := range batch {
		if !failed(m.id) {
			q.stats.Deleted++
			q.addPending(-1)
			continue
		}
		q.stats.Failed++
		if m.receives >= q.opts.MaxReceiveCount {
			q.dead = append(q.dead, DeadLetter{MessageID: m.id, Body: m.body, Receives: m.receives, Err: cause})
			q.stats.DeadLettered++
			q.addPending(-1)
			q.opts.Logger.Error("queue: message moved to the dead-letter queue", "queue", q.opts.Name, "messageId", m.id, "receives", m.receives, "err", cause)
			continue
		}
		if q.timers == nil {
			continue // Close gave up: the message is lost, and counted pending
		}
		delay := q.opts.RetryDelay << (m.receives - 1)
		q.opts.Logger.Warn("queue: message failed; retrying", "queue", q.opts.Name, "messageId", m.id, "receives", m.receives, "in", delay, "err", cause)
		// The timer is the queue's: Close stops it, or waits for it once it
		// fired. t is set under q.mu, which requeue takes before reading it.
		var t *time.Timer
		q.retries.Add(1)
		t = time.AfterFunc(delay, func() { q.requeue(&t, m) })
		q.timers[t] = struct{}{}
	}
}

// filter deletes the messages whose records match none of the filters,
// as Lambda does for SQS, and returns the others.
func (q *Local) filter(batch []*localMessage, recs []events.SQSMessage) ([]*localMessage, []events.SQSMessage) {
	if q.opts.Filter.Len() == 0 {
		return batch, recs
	}
	n, dropped := 0, 0
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err == nil && !q.opts.Filter.Match(b) {
			dropped++
			continue
		}
		batch[n], recs[n] = batch[i], r
		n++
	}
	if dropped > 0 {
		q.mu.Lock()
		q.stats.Filtered += int64(dropped)
		q.addPending(-dropped)
		q.mu.Unlock()
		q.opts.Logger.Debug("queue: messages deleted without invoking: they match no filter", "queue", q.opts.Name, "messages", dropped)
	}
	return batch[:n], recs[:n]
}

// invoke runs the handler and says which records failed.
func (q *Local) invoke(ev events.SQSEvent) (failed func(id string) bool, cause string) {
	ctx, cancel := context.WithTimeout(q.ctx, q.opts.Timeout)
	defer cancel()
	resp, err := func() (resp events.SQSEventResponse, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panicked: %v", r)
			}
		}()
		return q.handler(ctx, ev)
	}()
	all := func(string) bool { return true }
	if err != nil {
		return all, err.Error()
	}
	if len(resp.BatchItemFailures) == 0 {
		return func(string) bool { return false }, ""
	}
	ids := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == "" {
			// Lambda treats an empty or unknown identifier as a failure of
			// the whole batch.
			return all, "batchItemFailures names an empty itemIdentifier"
		}
		ids[f.ItemIdentifier] = true
	}
	for id := range ids {
		found := false
		for _, r := range ev.Records {
			found = found || r.MessageId == id
		}
		if !found {
			return all, "batchItemFailures names an unknown itemIdentifier " + id
		}
	}
	return func(id string) bool { return ids[id] }, "reported in batchItemFailures"
}

// requeue makes m ready again when its retry timer *t fires; a no-op once
// Close stopped the timers. *t is read under q.mu, which its writer held.
func (q *Local) requeue(t **time.Timer, m *localMessage) {
	defer q.retries.Done()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.timers == nil {
		return
	}
	delete(q.timers, *t)
	q.ready = append(q.ready, m)
	q.signal()
}

// counts returns how many messages are ready to be delivered, and how
// many are being delivered or wait to be retried (SQS's visible and not
// visible messages).
func (q *Local) counts() (visible, notVisible int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready), q.pending - len(q.ready)
}

// Flush waits until every message sent so far has been deleted (handled
// successfully) or dead-lettered, or ctx ends.
func (q *Local) Flush(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DeadLetters returns the messages moved to the dead-letter queue.
func (q *Local) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Stats returns the counters.
func (q *Local) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Pending = q.pending
	return s
}

// Close refuses new messages, waits (until ctx ends) for those pending to
// be handled or dead-lettered, and stops the workers and the retry timers.
// Messages still pending when ctx ends are lost with the process, and
// counted in the error.
//
// When Close returns, no retry timer is left to fire and no goroutine of
// the queue runs, with one exception it cannot avoid: a handler still
// running when ctx ends. Its context is cancelled, but a handler is user
// code that may never return, so Close does not wait for it; its worker
// ends when it returns. Such handlers are counted in the error.
func (q *Local) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	err := q.Flush(ctx)

	q.mu.Lock()
	timers := q.timers
	q.timers = nil // no timer is started, and none requeues, from now on
	q.mu.Unlock()
	for t := range timers {
		if t.Stop() {
			q.retries.Done() // its function will not run
		}
	}
	q.retries.Wait() // the functions of timers that fired: they return at once
	close(q.stop)
	q.cancel()
	// Wait for the workers: all of them, or, when ctx ended first, those
	// not running a handler.
	for exited := 0; ; exited++ {
		q.mu.Lock()
		busy, pending := q.busy, q.pending
		q.mu.Unlock()
		live := q.opts.Concurrency - exited
		if live == 0 || (err != nil && live <= busy) {
			if err != nil {
				return fmt.Errorf("queue: closing %s with %d messages pending (%d handlers still running): %w", q.opts.Name, pending, busy, err)
			}
			return nil
		}
		<-q.workerExit
	}
}
