package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/switchboard-ws/switchboard/integration"
)

// shardReader reads one shard and delivers its records in order, one
// invocation at a time.
type shardReader struct {
	m        *DynamoDBStream
	arn, id  string
	iter     *string
	position streamtypes.ShardIteratorType // for a new iterator when nothing was read yet
	lastRead string                        // sequence number of the last record read
	log      *slog.Logger
}

// pendingRecord is a record read and converted, with the size of its JSON.
type pendingRecord struct {
	rec  events.DynamoDBEventRecord
	size int
}

func (m *DynamoDBStream) readShard(arn string, s *shard, finished chan<- string) {
	defer m.wg.Done()
	r := &shardReader{m: m, arn: arn, id: s.id, iter: s.iterator, position: streamtypes.ShardIteratorTypeTrimHorizon,
		log: m.log.With("shard", s.id)}
	if s.iterator != nil {
		r.position = streamtypes.ShardIteratorTypeLatest
	}
	if r.run() {
		r.log.Debug("event source mapping: shard ended")
		select {
		case finished <- s.id:
		case <-m.pollCtx.Done():
		}
	}
}

// run reads and delivers until the shard ends (true) or Close (false).
func (r *shardReader) run() bool {
	ctx := r.m.pollCtx
	batchSize := r.m.opts.BatchSize
	var pending []pendingRecord
	bytes, ended, failures := 0, false, 0
	for ctx.Err() == nil {
		if !ended && len(pending) < batchSize && bytes < maxPayloadBytes {
			recs, n, end, err := r.read(ctx, min(getRecordsLimit, batchSize-len(pending)))
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				failures++
				r.log.Warn("event source mapping: reading the stream failed; trying again", "err", err)
				if sleep(ctx, backoff(r.m.opts.PollInterval, failures)) != nil {
					return false
				}
				continue
			}
			failures = 0
			ended = end
			for _, p := range recs {
				bytes += p.size
			}
			pending = append(pending, recs...)
			if n > 0 && !ended && len(pending) < batchSize && bytes < maxPayloadBytes {
				continue // there may be more at once (even if all were filtered out): fill the batch first
			}
		}
		if len(pending) == 0 {
			if ended {
				return true
			}
			if sleep(ctx, r.m.opts.PollInterval) != nil {
				return false
			}
			continue
		}
		n := cut(pending, batchSize)
		r.deliver(pending[:n])
		for _, p := range pending[:n] {
			bytes -= p.size
		}
		pending = append(pending[:0:0], pending[n:]...)
	}
	return false
}

// cut is how many of the first pending records make one batch: at most
// batchSize, and an event within Lambda's payload limit.
func cut(pending []pendingRecord, batchSize int) int {
	size := len(`{"Records":[]}`)
	for i, p := range pending {
		size += p.size + 1
		if i == batchSize || (i > 0 && size > maxPayloadBytes) {
			return i
		}
	}
	return len(pending)
}

// read calls GetRecords once and converts what it returns, without the
// records that match no filter; n is the number of records read, end
// reports that the shard is closed and fully read.
func (r *shardReader) read(ctx context.Context, limit int) (recs []pendingRecord, n int, end bool, err error) {
	if r.iter == nil {
		if err := r.newIterator(ctx); err != nil {
			return nil, 0, false, err
		}
	}
	out, err := r.m.opts.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: r.iter, Limit: aws.Int32(int32(limit))}, withEmptyMapFix)
	if err != nil {
		var expired *streamtypes.ExpiredIteratorException
		var trimmed *streamtypes.TrimmedDataAccessException
		switch {
		case errors.As(err, &expired):
			r.iter = nil // a new one, after the last record read
			return nil, 0, false, nil
		case errors.As(err, &trimmed) && r.lastRead == "":
			// DynamoDB Local positions an iterator taken on an empty shard
			// (LATEST or TRIM_HORIZON) at the shard's starting sequence
			// number, and refuses it as trimmed when the shard's first
			// record got a higher one (its sequence numbers are shared by
			// every table). Every record of the shard came after that
			// iterator: read them from the first.
			r.log.Debug("event source mapping: iterator refused as trimmed before any record; reading from the shard's first record")
			r.iter, r.position = nil, streamtypes.ShardIteratorTypeTrimHorizon
			return nil, 0, false, nil
		case errors.As(err, &trimmed):
			r.log.Error("event source mapping: records expired from the stream before they were read; going on from the oldest left", "after", r.lastRead)
			r.iter, r.lastRead, r.position = nil, "", streamtypes.ShardIteratorTypeTrimHorizon
			return nil, 0, false, nil
		}
		return nil, 0, false, fmt.Errorf("GetRecords: %w", err)
	}
	r.iter = out.NextShardIterator
	for _, rec := range out.Records {
		seq := ""
		if rec.Dynamodb != nil {
			seq = aws.ToString(rec.Dynamodb.SequenceNumber)
		}
		r.lastRead = seq
		ev, err := convertRecord(rec, r.arn, r.m.opts.Region)
		if err != nil {
			r.log.Error("event source mapping: a record cannot be put in Lambda's event; skipped", "sequenceNumber", seq, "err", err)
			continue
		}
		if sw := r.m.opts.TTLSweeper; sw != nil && ev.EventName == string(events.DynamoDBOperationTypeRemove) && ev.UserIdentity == nil {
			if sw.claim(ctx, r.m, ev) {
				ev.UserIdentity = ttlIdentity()
			}
		}
		b, err := json.Marshal(ev)
		if err != nil {
			r.log.Error("event source mapping: a record cannot be encoded; skipped", "sequenceNumber", seq, "err", err)
			continue
		}
		if !r.m.filter.Match(b) {
			// As Lambda: a record that matches no filter is never
			// delivered, and the shard is read past it.
			r.m.count(func(s *StreamStats) { s.Filtered++ })
			continue
		}
		recs = append(recs, pendingRecord{rec: ev, size: len(b)})
	}
	return recs, len(out.Records), out.NextShardIterator == nil, nil
}

// newIterator positions the reader after the last record read, or at its
// starting position when nothing was read.
func (r *shardReader) newIterator(ctx context.Context) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.arn), ShardId: aws.String(r.id), ShardIteratorType: r.position}
	if r.lastRead != "" {
		in.ShardIteratorType = streamtypes.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(r.lastRead)
	}
	out, err := r.m.opts.Streams.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("GetShardIterator: %w", err)
	}
	r.iter = out.ShardIterator
	return nil
}

// outcome of one invocation.
type outcome int

const (
	invoked     outcome = iota // the function handled the batch
	failed                     // a function error (or an invalid batch response)
	partial                    // batchItemFailures: records from failedAt on failed
	unreachable                // the function was not reached
	closing                    // Close's context ended during the invocation
)

// part is a batch, or a piece of one after bisecting or a partial
// failure, with the number of its failed invocations.
type part struct {
	recs     []events.DynamoDBEventRecord
	failures int
}

// deliver invokes the function with a batch until it succeeds, its
// records are discarded after the retries, or Close.
func (r *shardReader) deliver(batch []pendingRecord) {
	recs := make([]events.DynamoDBEventRecord, len(batch))
	for i, p := range batch {
		recs[i] = p.rec
	}
	opts := r.m.opts
	maxRetries := -1
	if opts.MaximumRetryAttempts != nil {
		maxRetries = *opts.MaximumRetryAttempts
	}
	work := []part{{recs: recs}}
	unreached := 0
	for len(work) > 0 {
		if r.m.pollCtx.Err() != nil {
			n := 0
			for _, p := range work {
				n += len(p.recs)
			}
			r.log.Warn("event source mapping: closing with records not delivered", "records", n)
			return
		}
		p := &work[0]
		res, failedAt, err := r.invoke(p.recs)
		switch res {
		case invoked:
			r.m.count(func(s *StreamStats) { s.Delivered += int64(len(p.recs)) })
			work = work[1:]
			unreached = 0
			continue
		case closing:
			return
		case unreachable:
			unreached++
			d := backoff(opts.RetryDelay, unreached)
			r.log.Warn("event source mapping: the function could not be invoked; trying again (not counted as a retry)",
				"records", len(p.recs), "in", d, "err", err)
			if sleep(r.m.pollCtx, d) != nil {
				continue // reported at the top
			}
			continue
		}
		unreached = 0
		if res == partial && failedAt > 0 {
			r.m.count(func(s *StreamStats) { s.Delivered += int64(failedAt) })
			p.recs = p.recs[failedAt:]
		}
		if res == failed && opts.BisectBatchOnFunctionError && len(p.recs) > 1 {
			h := len(p.recs) / 2
			r.log.Warn("event source mapping: function error; retrying the batch in two halves",
				"records", len(p.recs), "firstSequenceNumber", p.recs[0].Change.SequenceNumber, "err", err)
			work = append([]part{{recs: p.recs[:h]}, {recs: p.recs[h:]}}, work[1:]...)
			continue
		}
		p.failures++
		if maxRetries >= 0 && p.failures > maxRetries {
			r.log.Error("event source mapping: records discarded after the retries (no on-failure destination locally)",
				"records", len(p.recs), "retries", maxRetries,
				"firstSequenceNumber", p.recs[0].Change.SequenceNumber,
				"lastSequenceNumber", p.recs[len(p.recs)-1].Change.SequenceNumber, "err", err)
			r.m.count(func(s *StreamStats) { s.Discarded += int64(len(p.recs)) })
			work = work[1:]
			continue
		}
		d := backoff(opts.RetryDelay, p.failures)
		r.log.Warn("event source mapping: function error; retrying the batch",
			"records", len(p.recs), "firstSequenceNumber", p.recs[0].Change.SequenceNumber,
			"attempt", p.failures+1, "in", d, "err", err)
		if sleep(r.m.pollCtx, d) != nil {
			continue // reported at the top
		}
	}
}

// invoke calls the function once with recs.
func (r *shardReader) invoke(recs []events.DynamoDBEventRecord) (res outcome, failedAt int, err error) {
	payload, err := json.Marshal(events.DynamoDBEvent{Records: recs})
	if err != nil {
		return failed, 0, fmt.Errorf("encoding the event: %w", err)
	}
	opts := r.m.opts
	ctx, cancel := context.WithTimeout(r.m.invokeCtx, opts.Timeout)
	defer cancel()
	r.m.count(func(s *StreamStats) { s.Invocations++ })
	out, err := opts.Function.Invoke(ctx, payload)
	if err != nil {
		var fe *integration.FunctionError
		switch {
		case errors.As(err, &fe):
			r.m.count(func(s *StreamStats) { s.FunctionErrors++ })
			return failed, 0, err
		case r.m.invokeCtx.Err() != nil:
			return closing, 0, err
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			r.m.count(func(s *StreamStats) { s.FunctionErrors++ })
			return failed, 0, fmt.Errorf("the function timed out after %s: %w", opts.Timeout, err)
		}
		r.m.count(func(s *StreamStats) { s.Unreachable++ })
		return unreachable, 0, err
	}
	if !opts.ReportBatchItemFailures {
		return invoked, 0, nil
	}
	at, err := firstFailure(recs, out)
	switch {
	case err != nil:
		r.m.count(func(s *StreamStats) { s.FunctionErrors++ })
		return failed, 0, err
	case at < 0:
		return invoked, 0, nil
	}
	r.m.count(func(s *StreamStats) { s.FunctionErrors++ })
	return partial, at, fmt.Errorf("the function reported a failure at record %s (%d of %d)", recs[at].Change.SequenceNumber, at+1, len(recs))
}

// firstFailure reads a ReportBatchItemFailures answer: the index of the
// record with the lowest sequence number among those it names, or -1 when
// the batch succeeded. An empty or null answer or list is a success; an
// empty, null or unknown itemIdentifier, or an answer that is not such an
// object, fails the whole batch, as on Lambda.
func firstFailure(recs []events.DynamoDBEventRecord, out []byte) (int, error) {
	text := strings.TrimSpace(string(out))
	if text == "" || text == "null" {
		return -1, nil
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal([]byte(text), &resp); err != nil {
		return 0, fmt.Errorf(`the function's answer is not {"batchItemFailures": [{"itemIdentifier": ...}]}: %w`, err)
	}
	if len(resp.BatchItemFailures) == 0 {
		return -1, nil
	}
	index := make(map[string]int, len(recs))
	for i, r := range recs {
		index[r.Change.SequenceNumber] = i
	}
	first := len(recs)
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return 0, errors.New("batchItemFailures names an empty or null itemIdentifier")
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			return 0, fmt.Errorf("batchItemFailures names %q, not the SequenceNumber of a record of the batch", *f.ItemIdentifier)
		}
		first = min(first, i)
	}
	return first, nil
}

// backoff is base doubled n-1 times, at most MaxRetryDelay.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}
