package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Expiring the previous process's connections at Open. Not in the writer's
// statement cache: it runs once, before the cache is used.
const (
	qExpireStaleConnections = `UPDATE connections SET expires_at = ?1 WHERE expires_at > ?1`
	qExpireStaleMemberships = `UPDATE memberships SET expires_at = ?1 WHERE expires_at > ?1`
)

// expireStale sets the expiry of every live connection and membership to
// now (ms), in one transaction, and returns how many connections it
// expired. The rows stay until DeleteExpired takes them, with the images
// the cleanup handler expects.
func expireStale(ctx context.Context, w *sql.DB, now int64) (int, error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("expiring the previous process's connections: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, qExpireStaleConnections, now)
	if err != nil {
		return 0, fmt.Errorf("expiring the previous process's connections: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expiring the previous process's connections: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qExpireStaleMemberships, now); err != nil {
		return 0, fmt.Errorf("expiring the previous process's memberships: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expiring the previous process's connections: %w", err)
	}
	return int(n), nil
}

// StaleAtOpen is how many connections of the previous process Open found
// live and expired.
func (s *Store) StaleAtOpen() int { return s.staleAtOpen }
