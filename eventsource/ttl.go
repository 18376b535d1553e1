package eventsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultSweepInterval is how often a TTLSweeper sweeps by default.
const DefaultSweepInterval = 10 * time.Second

// sweepRetention is how long a sweeper remembers a deletion for the
// mappings that have not seen its stream record yet: the stream's
// retention.
const sweepRetention = 24 * time.Hour

// TTLSweeperOptions configure a TTLSweeper; zero values take the defaults
// shown.
type TTLSweeperOptions struct {
	Client    *dynamodb.Client // required
	TableName string           // required
	// Interval between sweeps (DefaultSweepInterval).
	Interval time.Duration
	// Now is the clock deciding what has expired (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// TTLSweeper does what DynamoDB's Time to Live process does, for
// endpoints that do not do it themselves: every Interval it deletes the
// items whose TTL attribute (the table's, from DescribeTimeToLive; none
// while TTL is not enabled) is a Number of epoch seconds before now. Each
// deletion is conditional on the attribute still holding the value read
// and still being before now, so an item refreshed meanwhile stays.
//
// The stream records of its deletions are ordinary REMOVE records; the
// DynamoDBStream mappings given this sweeper (DynamoDBStreamOptions.
// TTLSweeper) deliver them with the userIdentity AWS gives TTL deletions.
// It remembers each deletion it made — the item's key and the exact old
// image DeleteItem returned — and a mapping reading a REMOVE record with
// that key and old image marks it, once per deletion and mapping. A
// deletion is recorded before DeleteItem is sent, and a mapping that meets
// a REMOVE of that key while the DeleteItem is in flight waits for its
// outcome, so there is no race; a deletion made by anyone else, even of
// an expired item, is never marked. The memory is the process's: the
// stream records of deletions made before a restart are delivered as
// ordinary REMOVE records.
type TTLSweeper struct {
	opts TTLSweeperOptions
	log  *slog.Logger

	mu        sync.Mutex
	swept     map[string][]*sweptItem // by the canonical text of the item's key
	consumers map[*DynamoDBStream]bool
	keyNames  []string // the table's key attributes, once known
	state     int      // 0 new, 1 started, 2 closed
	stop      context.CancelFunc
	done      chan struct{}

	// beforeDelete, in tests, runs between the scan and each DeleteItem.
	beforeDelete func(key map[string]types.AttributeValue)
}

// sweptItem is a deletion the sweeper made or is making.
type sweptItem struct {
	at       time.Time
	attr     string        // the TTL attribute
	ttl      string        // its value the item was deleted for
	done     chan struct{} // closed once DeleteItem returned
	deleted  bool          // DeleteItem succeeded: oldImage is the item
	unknown  bool          // DeleteItem failed without saying whether it deleted
	oldImage string        // canonical text of the deleted item
	claimed  map[*DynamoDBStream]bool
}

// NewTTLSweeper checks opts and returns a sweeper; Start runs it every
// Interval, Sweep once.
func NewTTLSweeper(opts TTLSweeperOptions) (*TTLSweeper, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("eventsource: TTLSweeperOptions.Client is required")
	case opts.TableName == "":
		return nil, errors.New("eventsource: TTLSweeperOptions.TableName is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultSweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &TTLSweeper{
		opts: opts, log: opts.Logger.With("table", opts.TableName),
		swept: map[string][]*sweptItem{}, consumers: map[*DynamoDBStream]bool{},
	}, nil
}

// Start sweeps now and then every Interval, until Close. Failed sweeps are
// logged and tried again at the next interval.
func (s *TTLSweeper) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 0 {
		return errors.New("eventsource: TTLSweeper started twice, or after Close")
	}
	s.state = 1
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.loop(ctx)
	return nil
}

func (s *TTLSweeper) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("TTL sweeper: sweep failed", "deleted", n, "err", err)
		} else if n > 0 {
			s.log.Info("TTL sweeper: expired items deleted", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the sweeps and waits (until ctx ends) for one running.
func (s *TTLSweeper) Close(ctx context.Context) error {
	s.mu.Lock()
	started := s.state == 1
	s.state = 2
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("eventsource: closing the TTL sweeper of table %q: %w", s.opts.TableName, ctx.Err())
	}
}

// Sweep deletes the items expired now (by Options.Now) and returns how many
// it deleted. It does nothing while the table's TTL is not enabled.
func (s *TTLSweeper) Sweep(ctx context.Context) (int, error) {
	ttl, err := s.opts.Client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.opts.TableName)})
	if err != nil {
		return 0, fmt.Errorf("eventsource: TTL sweeper: table %q: %w", s.opts.TableName, err)
	}
	d := ttl.TimeToLiveDescription
	if d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) == "" {
		return 0, nil
	}
	attr := aws.ToString(d.AttributeName)
	keys, err := s.keys(ctx)
	if err != nil {
		return 0, err
	}
	now := s.opts.Now()
	s.prune(now)
	nowText := strconv.FormatInt(now.Unix(), 10)
	names := map[string]string{"#ttl": attr}
	projection := "#ttl"
	for i, k := range keys {
		p := "#k" + strconv.Itoa(i)
		names[p] = k
		projection += ", " + p
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.opts.TableName),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#ttl < :now"),
		ProjectionExpression:      aws.String(projection),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: nowText}},
	}
	n := 0
	var errs []error
	for {
		out, err := s.opts.Client.Scan(ctx, in)
		if err != nil {
			return n, fmt.Errorf("eventsource: TTL sweeper: scanning table %q: %w", s.opts.TableName, err)
		}
		for _, it := range out.Items {
			v, ok := it[attr].(*types.AttributeValueMemberN)
			if !ok {
				continue // TTL only looks at Numbers
			}
			key := make(map[string]types.AttributeValue, len(keys))
			for _, k := range keys {
				key[k] = it[k]
			}
			ok, err := s.delete(ctx, key, attr, v.Value, nowText, now)
			if err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				errs = append(errs, err)
				continue
			}
			if ok {
				n++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("eventsource: TTL sweeper: table %q: %w", s.opts.TableName, err)
	}
	return n, nil
}

// keys returns the table's key attribute names.
func (s *TTLSweeper) keys(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	keys := s.keyNames
	s.mu.Unlock()
	if keys != nil {
		return keys, nil
	}
	out, err := s.opts.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.opts.TableName)})
	if err != nil {
		return nil, fmt.Errorf("eventsource: TTL sweeper: table %q: %w", s.opts.TableName, err)
	}
	for _, k := range out.Table.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName))
	}
	s.mu.Lock()
	s.keyNames = keys
	s.mu.Unlock()
	return keys, nil
}

// delete deletes one item if its TTL attribute still holds ttl and is
// before now, recording the deletion for the mappings.
func (s *TTLSweeper) delete(ctx context.Context, key map[string]types.AttributeValue, attr, ttl, nowText string, now time.Time) (bool, error) {
	k, err := fromTableMap(key)
	if err != nil {
		return false, fmt.Errorf("key: %w", err)
	}
	keyText := canonical(k)
	if s.beforeDelete != nil {
		s.beforeDelete(key)
	}
	e := &sweptItem{at: now, attr: attr, ttl: ttl, done: make(chan struct{}), claimed: map[*DynamoDBStream]bool{}}
	s.mu.Lock()
	s.swept[keyText] = append(s.swept[keyText], e)
	s.mu.Unlock()

	out, err := s.opts.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.opts.TableName),
		Key:                      key,
		ConditionExpression:      aws.String("#ttl = :ttl AND #ttl < :now"),
		ExpressionAttributeNames: map[string]string{"#ttl": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ttl": &types.AttributeValueMemberN{Value: ttl},
			":now": &types.AttributeValueMemberN{Value: nowText},
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	var cond *types.ConditionalCheckFailedException
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(e.done)
	switch {
	case errors.As(err, &cond):
		s.forget(keyText, e) // refreshed or deleted meanwhile: no deletion of ours
		return false, nil
	case err != nil:
		e.unknown = true // it may have been deleted: matched by key and TTL value
		return false, fmt.Errorf("deleting an expired item: %w", err)
	}
	old, err := fromTableMap(out.Attributes)
	if err != nil || len(old) == 0 {
		e.unknown = true
		return true, nil
	}
	e.deleted, e.oldImage = true, canonical(old)
	return true, nil
}

// forget drops one recorded deletion; s.mu is held.
func (s *TTLSweeper) forget(keyText string, e *sweptItem) {
	list := s.swept[keyText]
	for i, x := range list {
		if x == e {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.swept, keyText)
	} else {
		s.swept[keyText] = list
	}
}

// prune forgets deletions older than the stream's retention.
func (s *TTLSweeper) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, list := range s.swept {
		for _, e := range list {
			if now.Sub(e.at) > sweepRetention {
				select {
				case <-e.done:
					s.forget(k, e)
				default:
				}
			}
		}
	}
}

func (s *TTLSweeper) register(m *DynamoDBStream) {
	s.mu.Lock()
	s.consumers[m] = true
	s.mu.Unlock()
}

func (s *TTLSweeper) unregister(m *DynamoDBStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.consumers, m)
	for k, list := range s.swept {
		for _, e := range list {
			delete(e.claimed, m)
			s.dropIfSeen(k, e)
		}
	}
}

// dropIfSeen forgets a deletion every registered mapping has claimed;
// s.mu is held.
func (s *TTLSweeper) dropIfSeen(keyText string, e *sweptItem) {
	select {
	case <-e.done:
	default:
		return
	}
	for c := range s.consumers {
		if !e.claimed[c] {
			return
		}
	}
	if len(s.consumers) > 0 {
		s.forget(keyText, e)
	}
}

// claim reports whether a REMOVE record read by m is the stream record of
// one of the sweeper's deletions (each deletion is claimed once per
// mapping). It waits for a deletion of that key still in flight.
func (s *TTLSweeper) claim(ctx context.Context, m *DynamoDBStream, rec events.DynamoDBEventRecord) bool {
	keyText := canonical(rec.Change.Keys)
	oldText := canonical(rec.Change.OldImage)
	for {
		s.mu.Lock()
		var wait chan struct{}
		for _, e := range s.swept[keyText] {
			if e.claimed[m] {
				continue
			}
			select {
			case <-e.done:
			default:
				wait = e.done
			}
			if wait != nil {
				break
			}
			if !e.matches(rec, oldText) {
				continue
			}
			e.claimed[m] = true
			s.dropIfSeen(keyText, e)
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		if wait == nil {
			return false
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return false
		}
	}
}

// matches tells whether a REMOVE record is this deletion's.
func (e *sweptItem) matches(rec events.DynamoDBEventRecord, oldText string) bool {
	switch {
	case e.deleted:
		return oldText == "" || oldText == e.oldImage // a KEYS_ONLY stream has no image
	case e.unknown:
		if rec.Change.OldImage == nil {
			return true
		}
		v, ok := rec.Change.OldImage[e.attr]
		return ok && v.DataType() == events.DataTypeNumber && v.Number() == e.ttl
	}
	return false
}
