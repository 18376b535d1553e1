package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
)

// DefaultFillConcurrency is how many memberships --fill store writes at
// once.
const DefaultFillConcurrency = 16

// roomFiller is what --fill store needs of the nodes' store.
type roomFiller interface {
	TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error)
	JoinRoom(ctx context.Context, m store.Membership) (bool, error)
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
// those in skip. It returns the connections it put in the room.
func fillRoom(ctx context.Context, f roomFiller, tenant, roomID string, skip map[string]bool) (map[string]bool, error) {
	all, err := f.TenantConnections(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("--fill store: listing the connections: %w", err)
	}
	var conns []store.Connection
	filled := make(map[string]bool, len(all))
	for _, c := range all {
		if !skip[c.ConnectionID] {
			conns = append(conns, c)
			filled[c.ConnectionID] = true
		}
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
					UserID: c.UserID, Username: c.Username, JoinedAt: now, ExpiresAt: c.ExpiresAt})
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
