package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/switchboard-ws/switchboard/chat/store"
)

// db is the pool, with one retry of a statement that failed because the
// server had cut its connection before running it.
//
// When PostgreSQL restarts (or an administrator terminates backends), the
// pool's idle connections are dead without knowing it: each would fail the
// next statement sent on it with "terminating connection due to
// administrator command" (57P01), one request per pooled connection. The
// server sends that error when it ends an idle backend, so the statement
// never ran. On such an error db resets the pool (every idle connection is
// closed, the ones in use are closed when released) and runs the statement
// once more on a new connection; if the server is still away, that attempt
// fails too and the error is returned.
type db struct{ pool *pgxpool.Pool }

// cut reports an error that says the connection was gone before the
// statement ran.
func cut(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", // admin_shutdown: terminated, or the server shutting down
			"57P02", // crash_shutdown
			"57P03": // cannot_connect_now: starting up
			return true
		}
		return false
	}
	return pgconn.SafeToRetry(err)
}

// again reports whether to retry after err, and resets the pool if so.
func (d db) again(ctx context.Context, err error) bool {
	if !cut(err) || ctx.Err() != nil {
		return false
	}
	d.pool.Reset()
	return true
}

// Exec runs a statement that returns no rows.
func (d db) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := d.pool.Exec(ctx, sql, args...)
	if d.again(ctx, err) {
		tag, err = d.pool.Exec(ctx, sql, args...)
	}
	return tag, notStorable(err)
}

// QueryRow runs a statement that returns at most one row, when the row is
// scanned.
func (d db) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retryRow{d: d, ctx: ctx, sql: sql, args: args}
}

type retryRow struct {
	d    db
	ctx  context.Context
	sql  string
	args []any
}

func (r retryRow) Scan(dest ...any) error {
	err := r.d.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	if r.d.again(r.ctx, err) {
		err = r.d.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	}
	return notStorable(err)
}

// do runs fn, and once more if it failed on a cut connection.
func (d db) do(ctx context.Context, fn func() error) error {
	err := fn()
	if d.again(ctx, err) {
		err = fn()
	}
	return notStorable(err)
}

// notStorable makes PostgreSQL's refusal of a text value it cannot hold
// (a NUL byte: SQLSTATE 22021) store.ErrNotFound: such a value comes from
// a client (an id), and no stored item has one — SQLite and DynamoDB find
// nothing for it either, and the client is told so, not that the server
// failed.
func notStorable(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22021" {
		return fmt.Errorf("%w: %s", store.ErrNotFound, pe.Message)
	}
	return err
}

// queryRows is queryAll on the pool, with the retry.
func queryRows[T any](ctx context.Context, d db, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	var out []T
	err := d.do(ctx, func() error {
		var err error
		out, err = queryAll(ctx, d.pool, scan, sql, args...)
		return err
	})
	return out, err
}
