package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
)

// DefaultFillConcurrency is how many memberships --fill store writes at
// once.
const DefaultFillConcurrency = 16

// DefaultFillWait bounds how long --fill store waits for the store to list
// every connection of the run (DynamoDB's indexes are eventually
// consistent), polling every fillPoll.
const (
	DefaultFillWait = 10 * time.Second
	fillPoll        = 200 * time.Millisecond
)

// roomFiller is what --fill store needs of the nodes' store.
type roomFiller interface {
	TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error)
	JoinRoom(ctx context.Context, m store.Membership, maxRooms int) (store.Join, error)
}

var (
	_ roomFiller = (*postgres.Store)(nil)
	_ roomFiller = (*dynamo.Store)(nil)
)

// openFiller opens the store the nodes share (--store postgres or
// dynamodb); close releases it.
func openFiller(ctx context.Context, cfg *Config) (f roomFiller, close func(), err error) {
	switch cfg.Store {
	case StorePostgres:
		st, err := postgres.Open(ctx, cfg.PostgresURL, postgres.Options{MaxConns: DefaultFillConcurrency})
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	case StoreDynamoDB:
		return dynamo.New(dynamo.LocalClient(cfg.DynamoDBEndpoint), cfg.Table, dynamo.Options{}), func() {}, nil
	}
	return nil, nil, fmt.Errorf("--fill store needs --store postgres or dynamodb, not %q", cfg.Store)
}

// fillRoom makes every live connection of tenant a member of roomID by
// writing the memberships into the store, as joinRoom would (without its
// user_joined broadcasts, which go to nobody the bench counts), except
// those in skip. It waits (up to DefaultFillWait) until the store lists at
// least want of them. It returns the connections it put in the room.
func fillRoom(ctx context.Context, f roomFiller, tenant, roomID string, skip map[string]bool, want int) (map[string]bool, error) {
	var conns []store.Connection
	for start := time.Now(); ; {
		all, err := f.TenantConnections(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("--fill store: listing the connections: %w", err)
		}
		conns = conns[:0]
		for _, c := range all {
			if !skip[c.ConnectionID] {
				conns = append(conns, c)
			}
		}
		if len(conns) >= want || time.Since(start) >= DefaultFillWait {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(fillPoll):
		}
	}
	filled := make(map[string]bool, len(conns))
	for _, c := range conns {
		filled[c.ConnectionID] = true
	}
	now := time.Now()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range DefaultFillConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) || ctx.Err() != nil {
					return
				}
				c := conns[i]
				_, err := f.JoinRoom(ctx, store.Membership{TenantID: tenant, RoomID: roomID, ConnectionID: c.ConnectionID,
					UserID: c.UserID, Username: c.Username, JoinedAt: now, ExpiresAt: c.ExpiresAt}, 0)
				if err != nil {
					mu.Lock()
					if len(errs) < 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("--fill store: joining: %w", err)
	}
	return filled, ctx.Err()
}

// ensureTable creates the DynamoDB table of --store dynamodb when it does
// not exist, once, before any node starts: nodes started at once with
// `dev --create-table` would race to create it, and the losers exit.
func ensureTable(ctx context.Context, cfg *Config) error {
	if cfg.Store != StoreDynamoDB {
		return nil
	}
	db := dynamo.LocalClient(cfg.DynamoDBEndpoint)
	_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &cfg.Table})
	var missing *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return dynamo.CreateTable(ctx, db, cfg.Table)
	case err != nil:
		return fmt.Errorf("--table %s at %s: %w", cfg.Table, cfg.DynamoDBEndpoint, err)
	}
	return nil
}
