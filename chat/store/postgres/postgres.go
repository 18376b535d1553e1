// Package postgres is the store.Store of a chat backend that several
// Switchboard nodes share: one PostgreSQL database, reached through a pgx
// connection pool (github.com/jackc/pgx/v5/pgxpool). docs/store.md lists
// the tables, the indexes and the queries.
//
// Nothing is cached in memory: other nodes write the same rows, so every
// read asks the database (each request-path query is one index scan,
// bounded like the other stores' reads). Expiry is decided by the store's
// clock, passed to each query, never by the server's now(). The schema is
// migrated when the store opens (migrate.go), under an advisory lock, so
// that nodes starting together agree.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Listing limits: a Page.Limit of zero or less means DefaultLimit; larger
// than MaxLimit means MaxLimit. DeleteExpired's limit defaults likewise.
const (
	DefaultLimit = store.DefaultPageLimit
	MaxLimit     = store.MaxPageLimit
)

// Pool defaults, used unless the URL sets them (pool_max_conns=…,
// connect_timeout=…, options=-c statement_timeout=…) or Options does.
const (
	// DefaultMaxConns is the pool's size per node: the handlers of one
	// node share it. PostgreSQL's own default max_connections is 100, so
	// a few nodes fit with room for tools.
	DefaultMaxConns = 16
	// DefaultMinConns connections are kept open, so that the first
	// requests after an idle period do not pay for a connection.
	DefaultMinConns = 2
	// DefaultConnectTimeout bounds dialling and authenticating: with
	// PostgreSQL unreachable, a request fails after this rather than hang.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultStatementTimeout is PostgreSQL's statement_timeout on the
	// pool's connections: a statement stuck behind a lock fails instead of
	// holding a handler.
	DefaultStatementTimeout = 10 * time.Second
	// DefaultMaxConnLifetime and DefaultMaxConnIdleTime recycle
	// connections (after a failover, say).
	DefaultMaxConnLifetime = time.Hour
	DefaultMaxConnIdleTime = 5 * time.Minute
	// DefaultHealthCheckPeriod is how often idle connections are checked.
	DefaultHealthCheckPeriod = 30 * time.Second
)

// Options configure Open. Zero values mean the defaults above.
type Options struct {
	// Now is the clock deciding which connections and memberships have
	// expired; nil means time.Now. Nodes sharing a database should have
	// their clocks in sync (NTP): an item expires at the instant the
	// clock of the node reading it passes its expiry.
	Now func() time.Time
	// MaxConns is the pool's size (DefaultMaxConns; pool_max_conns in the
	// URL wins over both).
	MaxConns int32
	// RoomCacheCost bounds the rooms GetRoom keeps in memory (roomcache.go),
	// in bytes (about): 0 means DefaultRoomCacheCost, a negative value no
	// cache.
	RoomCacheCost int
}

// Store is a store.Store (and store.Sweeper) over one PostgreSQL database.
// It is safe for concurrent use, and several stores (in several processes)
// may share the database.
type Store struct {
	pool  *pgxpool.Pool
	db    db // the pool, with a retry after a cut connection (retry.go)
	now   func() time.Time
	rooms *roomCache // rooms GetRoom read: they never change
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Sweeper = (*Store)(nil)
)

// Open connects to the database at url (postgres://user:pass@host:port/db?…
// or a key=value DSN), checks that it answers, and brings its schema up to
// date.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := poolConfig(url, opts)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", redact(cfg), err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cacheCost := opts.RoomCacheCost
	switch {
	case cacheCost == 0:
		cacheCost = DefaultRoomCacheCost
	case cacheCost < 0:
		cacheCost = 0
	}
	return &Store{pool: pool, db: db{pool}, now: now, rooms: newRoomCache(cacheCost)}, nil
}

// poolConfig parses url and applies the defaults the URL does not set.
func poolConfig(url string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err // pgconn's errors do not repeat the password
	}
	has := func(key string) bool { return strings.Contains(url, key) }
	if !has("pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
		if opts.MaxConns > 0 {
			cfg.MaxConns = opts.MaxConns
		}
	}
	if !has("pool_min_conns") {
		cfg.MinConns = min(DefaultMinConns, cfg.MaxConns)
	}
	if !has("pool_max_conn_lifetime") {
		cfg.MaxConnLifetime = DefaultMaxConnLifetime
	}
	if !has("pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if !has("pool_health_check_period") {
		cfg.HealthCheckPeriod = DefaultHealthCheckPeriod
	}
	if !has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok && !has("statement_timeout") {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(DefaultStatementTimeout.Milliseconds())
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "switchboard"
	}
	return cfg, nil
}

// redact names the database of cfg without its password.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close closes the pool, waiting for connections in use to be released;
// closing twice is not an error.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool is the store's connection pool (for tests and metrics).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// nowMs is the store's clock in integer milliseconds, the unit of every
// time column.
func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// ms and fromMs convert times to and from the columns: integer milliseconds
// since the Unix epoch, UTC.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

// noRows reports pgx's "no rows in result set".
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
