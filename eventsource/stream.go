package eventsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/switchboard-ws/switchboard/eventsource/filter"
	"github.com/switchboard-ws/switchboard/integration"
)

// StartingPosition is where a mapping starts reading a stream.
type StartingPosition string

// The starting positions Lambda offers for DynamoDB streams.
const (
	// Latest: only records written after Start returns.
	Latest StartingPosition = "LATEST"
	// TrimHorizon: every record the stream still holds (24 hours).
	TrimHorizon StartingPosition = "TRIM_HORIZON"
)

// Limits and defaults of a DynamoDB stream event source mapping.
const (
	DefaultBatchSize    = 100
	MaxBatchSize        = 10000
	DefaultPollInterval = 250 * time.Millisecond
	DefaultRetryDelay   = time.Second
	DefaultTimeout      = 60 * time.Second
	// MaxRetryDelay caps the doubling RetryDelay.
	MaxRetryDelay = 30 * time.Second
	// maxPayloadBytes is Lambda's limit of a synchronous invocation's
	// payload: a batch is cut before it would exceed it.
	maxPayloadBytes = 6 << 20
	// getRecordsLimit is the most records one GetRecords returns.
	getRecordsLimit = 1000
	// shardRefresh: how often the stream's shards are listed again to find
	// new ones (also whenever a shard ends).
	shardRefresh = 10 * time.Second
)

// DynamoDBStreamOptions configure a DynamoDBStream: the properties of an
// AWS::Lambda::EventSourceMapping (or a SAM DynamoDB event) on a table's
// stream. Zero values take the defaults shown.
type DynamoDBStreamOptions struct {
	// Streams reads the stream (GetRecords and the rest); DynamoDB
	// finds the table's stream (DescribeTable's LatestStreamArn). Both
	// required.
	Streams  *dynamodbstreams.Client
	DynamoDB *dynamodb.Client
	// TableName is the table whose stream is read. Required.
	TableName string
	// Function is invoked with the events.DynamoDBEvent JSON. Required.
	// A *integration.FunctionError it returns is a function error (it
	// counts against MaximumRetryAttempts, and bisects); any other error
	// means the function was not reached and is retried without counting,
	// as Lambda retries throttled invocations.
	Function integration.Invoker
	// FunctionName names the function in logs. Default "function".
	FunctionName string
	// BatchSize: most records per invocation, 1 to MaxBatchSize (100). A
	// batch is also cut before its event would exceed 6 MiB.
	BatchSize int
	// StartingPosition: Latest (the default) or TrimHorizon.
	StartingPosition StartingPosition
	// MaximumRetryAttempts: how many times a batch that failed is retried
	// before its records are discarded; nil or -1 means until the records
	// leave the stream (AWS's default), 0 no retry; at most 10000.
	MaximumRetryAttempts *int
	// BisectBatchOnFunctionError splits a batch that failed in two halves,
	// retried separately (splitting does not count as a retry).
	BisectBatchOnFunctionError bool
	// ReportBatchItemFailures (FunctionResponseTypes) lets the function
	// answer {"batchItemFailures":[{"itemIdentifier": SequenceNumber}]}:
	// the records before the first one named succeeded, the rest are
	// retried.
	ReportBatchItemFailures bool
	// PollInterval: the wait between GetRecords calls on a shard that had
	// nothing new (Lambda polls each shard four times a second). Default
	// 250ms.
	PollInterval time.Duration
	// RetryDelay: the wait before a failed batch is retried; it doubles
	// with each further failure, up to MaxRetryDelay. Default 1s.
	RetryDelay time.Duration
	// Timeout bounds one invocation (the function's timeout); running
	// out is a function error. Default 60s.
	Timeout time.Duration
	// Region, when set, replaces the records' awsRegion (DynamoDB Local
	// writes "ddblocal").
	Region string
	// TTLSweeper, when set, is the sweeper of this table whose deletions
	// this mapping delivers as TTL deletions (userIdentity Service).
	TTLSweeper *TTLSweeper
	// Filters are the mapping's FilterCriteria patterns (JSON, see package
	// filter): only the records that match one of them are delivered;
	// the others are passed over, and the shard is read past them as
	// Lambda does, so a batch that filters to nothing invokes nothing.
	// None: every record is delivered. NewDynamoDBStream refuses a bad
	// pattern.
	Filters []string
	Logger  *slog.Logger
}

func (o *DynamoDBStreamOptions) defaults() error {
	switch {
	case o.Streams == nil:
		return errors.New("eventsource: DynamoDBStreamOptions.Streams (a dynamodbstreams client) is required")
	case o.DynamoDB == nil:
		return errors.New("eventsource: DynamoDBStreamOptions.DynamoDB (a dynamodb client) is required")
	case o.TableName == "":
		return errors.New("eventsource: DynamoDBStreamOptions.TableName is required")
	case o.Function == nil:
		return errors.New("eventsource: DynamoDBStreamOptions.Function is required")
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return fmt.Errorf("eventsource: BatchSize %d: want 1 to %d", o.BatchSize, MaxBatchSize)
	case o.MaximumRetryAttempts != nil && (*o.MaximumRetryAttempts < -1 || *o.MaximumRetryAttempts > 10000):
		return fmt.Errorf("eventsource: MaximumRetryAttempts %d: want -1 (infinite) or 0 to 10000", *o.MaximumRetryAttempts)
	case o.TTLSweeper != nil && o.TTLSweeper.opts.TableName != o.TableName:
		return fmt.Errorf("eventsource: the TTLSweeper sweeps table %q, not %q", o.TTLSweeper.opts.TableName, o.TableName)
	}
	switch o.StartingPosition {
	case "":
		o.StartingPosition = Latest
	case Latest, TrimHorizon:
	default:
		return fmt.Errorf("eventsource: StartingPosition %q: want LATEST or TRIM_HORIZON", o.StartingPosition)
	}
	if o.FunctionName == "" {
		o.FunctionName = "function"
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// StreamStats counts what a DynamoDBStream did.
type StreamStats struct {
	Invocations    int64 // calls of the function
	Delivered      int64 // records the function handled successfully
	FunctionErrors int64 // invocations that failed (errors, timeouts, partial failures)
	Unreachable    int64 // invocations that did not reach the function
	Discarded      int64 // records dropped after MaximumRetryAttempts
	Filtered       int64 // records passed over: they match none of the Filters
}

// DynamoDBStream is a Lambda event source mapping on a DynamoDB table's
// stream: it reads every shard of the stream, in order, and invokes the
// function with batches of records as events.DynamoDBEvent, retrying as
// Lambda does. See the package documentation for its contract.
type DynamoDBStream struct {
	opts   DynamoDBStreamOptions
	filter *filter.Filter
	log    *slog.Logger

	mu    sync.Mutex
	state int // 0 new, 1 started, 2 closed
	arn   string
	stats StreamStats

	pollCtx      context.Context // ends when Close begins
	stopPolling  context.CancelFunc
	invokeCtx    context.Context // ends when Close's context does
	cancelInvoke context.CancelFunc
	wg           sync.WaitGroup // the coordinator and the shard readers
}

// NewDynamoDBStream checks opts and returns a mapping; Start starts it.
func NewDynamoDBStream(opts DynamoDBStreamOptions) (*DynamoDBStream, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	f, err := filter.Compile(opts.Filters)
	if err != nil {
		return nil, fmt.Errorf("eventsource: FilterCriteria of the mapping of table %q: %w", opts.TableName, err)
	}
	m := &DynamoDBStream{opts: opts, filter: f}
	m.log = opts.Logger.With("table", opts.TableName, "function", opts.FunctionName)
	m.pollCtx, m.stopPolling = context.WithCancel(context.Background())
	m.invokeCtx, m.cancelInvoke = context.WithCancel(context.Background())
	return m, nil
}

// StreamARN is the ARN of the stream being read (after Start): the
// records' eventSourceARN.
func (m *DynamoDBStream) StreamARN() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.arn
}

// Stats returns the counters.
func (m *DynamoDBStream) Stats() StreamStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

func (m *DynamoDBStream) count(f func(*StreamStats)) {
	m.mu.Lock()
	f(&m.stats)
	m.mu.Unlock()
}

// shard is what the coordinator knows of a shard.
type shard struct {
	id, parent string
	iterator   *string // LATEST iterators are taken at Start
	started    bool
	done       bool
}

// Start finds the table's stream and its shards and starts reading them
// in the background; with Latest, every record written after Start
// returns is delivered. ctx bounds only this setup: the mapping runs until
// Close.
func (m *DynamoDBStream) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != 0 {
		return errors.New("eventsource: DynamoDBStream started twice, or after Close")
	}
	out, err := m.opts.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(m.opts.TableName)})
	if err != nil {
		return fmt.Errorf("eventsource: table %q: %w", m.opts.TableName, err)
	}
	spec := out.Table.StreamSpecification
	if spec == nil || !aws.ToBool(spec.StreamEnabled) || aws.ToString(out.Table.LatestStreamArn) == "" {
		return fmt.Errorf("eventsource: table %q has no stream: enable it (StreamSpecification) for an event source mapping", m.opts.TableName)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	list, err := m.listShards(ctx, arn)
	if err != nil {
		return fmt.Errorf("eventsource: stream of table %q: %w", m.opts.TableName, err)
	}
	shards := make(map[string]*shard, len(list))
	for _, s := range list {
		sh := &shard{id: aws.ToString(s.ShardId), parent: aws.ToString(s.ParentShardId)}
		shards[sh.id] = sh
		if m.opts.StartingPosition != Latest {
			continue
		}
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			sh.done = true // closed: nothing will be written to it any more
			continue
		}
		it, err := m.opts.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(arn), ShardId: s.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeLatest,
		})
		if err != nil {
			return fmt.Errorf("eventsource: stream of table %q: shard %s: %w", m.opts.TableName, sh.id, err)
		}
		sh.iterator = it.ShardIterator
	}
	m.arn = arn
	m.state = 1
	if m.opts.TTLSweeper != nil {
		m.opts.TTLSweeper.register(m)
	}
	m.log.Info("event source mapping started", "stream", arn, "shards", len(list), "startingPosition", m.opts.StartingPosition, "filters", m.filter.Len())
	m.wg.Add(1)
	go m.coordinate(arn, shards)
	return nil
}

// listShards describes every shard of the stream (following pages).
func (m *DynamoDBStream) listShards(ctx context.Context, arn string) ([]streamtypes.Shard, error) {
	var shards []streamtypes.Shard
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := m.opts.Streams.DescribeStream(ctx, in)
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		last := out.StreamDescription.LastEvaluatedShardId
		if last == nil {
			return shards, nil
		}
		in.ExclusiveStartShardId = last
	}
}

// coordinate starts a reader for every shard whose parent is done (or
// unknown: trimmed from the stream), so that a key's records, which move
// from a parent shard to its children, are delivered in order; it lists
// the shards again now and then, and whenever a shard ends, to find new
// ones (read from their start).
func (m *DynamoDBStream) coordinate(arn string, shards map[string]*shard) {
	defer m.wg.Done()
	finished := make(chan string)
	startReady := func() {
		ids := make([]string, 0, len(shards))
		for id := range shards {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			s := shards[id]
			if s.started || s.done {
				continue
			}
			if p, ok := shards[s.parent]; ok && !p.done {
				continue
			}
			s.started = true
			m.wg.Add(1)
			go m.readShard(arn, s, finished)
		}
	}
	refresh := func() {
		list, err := m.listShards(m.pollCtx, arn)
		if err != nil {
			if m.pollCtx.Err() == nil {
				m.log.Warn("event source mapping: listing the stream's shards", "err", err)
			}
			return
		}
		for _, s := range list {
			id := aws.ToString(s.ShardId)
			if _, ok := shards[id]; !ok {
				shards[id] = &shard{id: id, parent: aws.ToString(s.ParentShardId)}
				m.log.Debug("event source mapping: new shard", "shard", id, "parent", aws.ToString(s.ParentShardId))
			}
		}
	}
	startReady()
	t := time.NewTicker(shardRefresh)
	defer t.Stop()
	for {
		select {
		case <-m.pollCtx.Done():
			return
		case id := <-finished:
			shards[id].done = true
			refresh()
		case <-t.C:
			refresh()
		}
		startReady()
	}
}

// Close stops the mapping: no more reading and no new invocation; an
// invocation running goes on until it returns or ctx ends (then its
// context is cancelled, and Close returns ctx's error once it has
// returned). Records read but not yet delivered are not delivered: the
// mapping keeps no checkpoint across Start. Close waits for every
// goroutine of the mapping.
func (m *DynamoDBStream) Close(ctx context.Context) error {
	m.mu.Lock()
	started := m.state == 1
	if m.state == 2 {
		m.mu.Unlock()
		return nil
	}
	m.state = 2
	m.mu.Unlock()
	m.stopPolling()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("eventsource: closing the mapping of table %q: %w", m.opts.TableName, ctx.Err())
		m.cancelInvoke()
		<-done
	}
	m.cancelInvoke()
	if started && m.opts.TTLSweeper != nil {
		m.opts.TTLSweeper.unregister(m)
	}
	if started {
		m.log.Info("event source mapping stopped")
	}
	return err
}
