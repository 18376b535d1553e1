// Package dynamo is the DynamoDB implementation of store.Store: the
// single-table design of docs/store.md (PK/SK, GSI1, GSI2, TTL on
// expiresAt), with aws-sdk-go-v2.
//
// Every request-path method is a GetItem, a Query (of the base table or of
// a GSI) or a conditional or transactional write; none scans. Reads of
// ephemeral items (connections, memberships and their copies) skip expired
// ones by the store's clock, since DynamoDB's TTL deletes them late.
// DeleteExpired (store.Sweeper) is for DynamoDB Local and tests only: it
// scans the table; on AWS the table's TTL deletes expired items and the
// stream carries them to the cleanup handler.
//
// Consistency: GetItem and base-table Queries read consistently (a
// connection's own items, a user's connections, a room's members); GSI
// Queries (TenantConnections, ListRooms, ListMessages) are eventually
// consistent on AWS, typically behind by well under a second. DynamoDB
// Local updates GSIs synchronously, so the conformance suite cannot see
// that difference.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Listing limits: a Page.Limit of zero or less means DefaultLimit; larger
// than MaxLimit means MaxLimit. DeleteExpired's limit defaults likewise.
const (
	DefaultLimit = store.DefaultPageLimit
	MaxLimit     = store.MaxPageLimit
)

// maxTransactItems is DynamoDB's limit of items in one TransactWriteItems.
const maxTransactItems = 100

// Options configure New.
type Options struct {
	// Now is the clock deciding which connections and memberships have
	// expired; nil means time.Now.
	Now func() time.Time
	// ConflictRetries is how many times a transaction cancelled only by
	// conflicts with concurrent transactions on the same items is retried
	// (with jittered backoff) before the error is returned; 0 means 20.
	ConflictRetries int
}

// Store is a store.Store (and store.Sweeper) over one DynamoDB table. It
// is safe for concurrent use.
type Store struct {
	db      *dynamodb.Client
	table   *string
	now     func() time.Time
	retries int
	guesses *expiryGuesses // connections' expiries, for JoinRoom
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Sweeper = (*Store)(nil)
)

// New returns a store over table, which must exist with the schema of
// TableSchema (CreateTable makes it). The client is the caller's: on AWS
// one from config.LoadDefaultConfig; for DynamoDB Local, LocalClient.
func New(client *dynamodb.Client, table string, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	retries := opts.ConflictRetries
	if retries <= 0 {
		retries = 20
	}
	return &Store{db: client, table: aws.String(table), now: now, retries: retries, guesses: newExpiryGuesses(DefaultExpiryGuesses)}
}

// Close releases nothing (the client is the caller's); it exists for
// store.Store and may be called more than once.
func (s *Store) Close() error { return nil }

// LocalClient returns a client for DynamoDB Local (or another emulator) at
// endpoint, such as http://127.0.0.1:8000: region us-east-1, static dummy
// credentials, and no validation of the x-amz-crc32 response checksum,
// which DynamoDB Local leaves out of its error responses (the SDK would
// log a warning for each). optFns may change any of that.
func LocalClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
	}
	return dynamodb.New(opts, optFns...)
}

// nowMs is the store's clock in milliseconds, the unit of expiresAtMs.
func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// query runs a Query, following LastEvaluatedKey until it has max items
// (max <= 0: all of them), and returns them in the Query's order. With
// max > 0 it sets Limit, which counts items before any FilterExpression:
// the listings that pass max have no filter.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, max int) ([]item, error) {
	in.TableName = s.table
	var out []item
	for {
		if max > 0 {
			in.Limit = aws.Int32(int32(max - len(out)))
		}
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			out = append(out, item(it))
		}
		if len(res.LastEvaluatedKey) == 0 || max > 0 && len(out) >= max {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// txError is a cancelled transaction: reasons[i] is why item i failed
// ("None" for items that did not).
type txError struct {
	reasons []types.CancellationReason
	err     error
}

func (e *txError) Error() string { return e.err.Error() }
func (e *txError) Unwrap() error { return e.err }

// failed reports whether item i of the transaction failed its condition,
// and returns the item as it was (nil if absent) when the write asked for
// ReturnValuesOnConditionCheckFailure=ALL_OLD.
func (e *txError) failed(i int) (bool, item) {
	if i >= len(e.reasons) || aws.ToString(e.reasons[i].Code) != "ConditionalCheckFailed" {
		return false, nil
	}
	return true, item(e.reasons[i].Item)
}

// anyFailed reports whether any item failed its condition.
func (e *txError) anyFailed() bool {
	for i := range e.reasons {
		if ok, _ := e.failed(i); ok {
			return true
		}
	}
	return false
}

// transact runs a TransactWriteItems, retrying it while it is cancelled
// only by conflicts with concurrent transactions (or throttled). A
// cancellation with a failed condition is returned as a *txError.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	if len(items) > maxTransactItems {
		return fmt.Errorf("transaction of %d items (at most %d)", len(items), maxTransactItems)
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items}
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			if retryable(err) && attempt < s.retries {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			}
			return err
		}
		te := &txError{reasons: tce.CancellationReasons, err: err}
		if te.anyFailed() {
			return te
		}
		conflict := false
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				conflict = true
			}
		}
		if !conflict || attempt >= s.retries {
			return te
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// retryable reports whether a single-item write failed only because a
// transaction held the item.
func retryable(err error) bool {
	var tc *types.TransactionConflictException
	return errors.As(err, &tc)
}

// backoff sleeps before retry attempt+1: jittered, exponential from 5 ms,
// at most 250 ms.
func backoff(ctx context.Context, attempt int) error {
	d := 5 * time.Millisecond << min(attempt, 6)
	d = min(d, 250*time.Millisecond)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// conditionFailed reports whether err is a failed condition of a
// single-item write, and returns the item as it was (nil if absent) when
// the write asked for ReturnValuesOnConditionCheckFailure=ALL_OLD.
func conditionFailed(err error) (bool, item) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return false, nil
	}
	return true, item(ccf.Item)
}

// withRetry runs a single-item operation, retrying it while a concurrent
// transaction holds the item (TransactionConflictException).
func (s *Store) withRetry(ctx context.Context, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || !retryable(err) || attempt >= s.retries {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}
