package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// The sweeps lock the rows they choose with FOR UPDATE SKIP LOCKED: nodes
// sweeping at the same time choose disjoint rows, and a row another
// statement is deleting (DeleteConnection, LeaveRoom) is skipped, or,
// if the sweep locked it first, that statement waits and then finds it
// gone. Each expired item is therefore handed to exactly one caller.
const (
	qSweepMemberships = `DELETE FROM memberships WHERE (tenant_id, room_id, connection_id) IN (
			SELECT tenant_id, room_id, connection_id FROM memberships WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING ` + memberCols
	qSweepConnections = `DELETE FROM connections WHERE connection_id IN (
			SELECT connection_id FROM connections WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING ` + connCols
	// A typing slot limits nothing after its expiry: deleting it then
	// changes no answer of TakeTypingSlot. No image: no handler wants it.
	qSweepTypingSlots = `DELETE FROM typing_slots WHERE connection_id IN (
			SELECT connection_id FROM typing_slots WHERE expires_at <= $1
			LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// DeleteExpired deletes up to limit expired connections and memberships
// (those whose expiry is not after now; limit <= 0 means DefaultLimit) in
// one transaction, and returns their images: memberships first, then
// connections, each oldest expiry first, so that the cleanup handler sees
// a connection's memberships no later than the connection (user_left
// before offline). It also deletes up to limit typing slots that no longer
// limit anything. Rooms and messages never expire.
//
// Several nodes may call it at once: each expired item is deleted, and its
// image returned, by exactly one call.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	var imgs []store.Image
	err := s.db.do(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			imgs = imgs[:0]
			members, err := queryAll(ctx, tx, scanMembership, qSweepMemberships, ms(now), limit)
			if err != nil {
				return err
			}
			slices.SortFunc(members, func(a, b store.Membership) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
			for _, m := range members {
				imgs = append(imgs, store.MembershipImage(m))
			}
			if rest := limit - len(members); rest > 0 {
				conns, err := queryAll(ctx, tx, scanConnection, qSweepConnections, ms(now), rest)
				if err != nil {
					return err
				}
				slices.SortFunc(conns, func(a, b store.Connection) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
				for _, c := range conns {
					imgs = append(imgs, store.ConnectionImage(c))
				}
			}
			_, err = tx.Exec(ctx, qSweepTypingSlots, ms(now), limit)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: delete expired: %w", err)
	}
	return imgs, nil
}
