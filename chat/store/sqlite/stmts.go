package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmtCache holds the prepared statements of one pool, by query text. SQL
// parsing is a large part of a query's cost in SQLite: every query is
// prepared once, when the store opens, and then reused (database/sql
// prepares it again, once, on each other pooled connection that runs it).
//
// The statements are prepared up front, not on first use: a transaction
// holds the writer's only connection, so a statement prepared on the pool
// during one would wait for that connection forever.
type stmtCache struct {
	m map[string]*sql.Stmt // read-only after newStmtCache
}

func newStmtCache(ctx context.Context, db *sql.DB, queries []string) (*stmtCache, error) {
	c := &stmtCache{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		if _, ok := c.m[q]; ok {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("preparing %q: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

// get returns the prepared statement of query.
func (c *stmtCache) get(_ context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	return nil, fmt.Errorf("sqlite: statement not prepared: %q", query)
}

// close closes every statement. Statements in use finish first
// (database/sql closes them once released).
func (c *stmtCache) close() error {
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// query runs a cached statement that returns rows.
func (c *stmtCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a cached statement that returns at most one row.
func (c *stmtCache) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := c.get(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// exec runs a cached statement that returns no rows.
func (c *stmtCache) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txStmts runs the writer's cached statements inside a transaction.
type txStmts struct {
	c  *stmtCache
	tx *sql.Tx
	// failed, if set, is set to true when a statement run by exec fails
	// (the writer's single writes: writeReq.single).
	failed *bool
}

func (t txStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := t.c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	// The transaction holds the writer's only connection, on which the
	// statement is already prepared (or is prepared now, once).
	return t.tx.StmtContext(ctx, st), nil
}

func (t txStmts) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t txStmts) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (t txStmts) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err == nil {
		var res sql.Result
		if res, err = st.ExecContext(ctx, args...); err == nil {
			return res, nil
		}
	}
	if t.failed != nil {
		*t.failed = true
	}
	return nil, err
}

// errRow is a row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// querier is what queryAll reads from: a cache or a transaction's view of it.
type querier interface {
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
