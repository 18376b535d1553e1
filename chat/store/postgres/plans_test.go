package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// The bounded counts read at most their LIMIT of live index entries (and
// the expired ones they meet) in the generic plan too: pgx prepares each
// statement once per pooled connection, and after five executions
// PostgreSQL may keep a generic plan, made without the parameters' values.
// In a database of many tenants, rooms and users, the generic plan of
// `WHERE tenant_id = $1 AND expires_at > $2 LIMIT $3` was an index scan of
// connections_by_expiry filtering on the tenant (every tenant's live
// connections read until the tenant's LIMIT: 19,004 rows removed by the
// filter and 20 ms in a tenant of 10,000 among 200,000), and for a room a
// bitmap scan of the room's whole range (the bitmap is built before the
// LIMIT applies). An ORDER BY of the index's own columns makes the generic
// plan an ordered scan of the tenant's (user's, room's) range that stops
// at the LIMIT. A custom plan, made with the values, still may read the
// whole range with a bitmap where the planner reckons it cheaper (a range
// not much larger than the LIMIT: reading it all is then about as cheap),
// never another tenant's rows.
func TestBoundedCountPlans(t *testing.T) {
	t.Parallel()
	s := open(t, testutil.Postgres(t), fixed(t0))
	ctx := t.Context()
	c, err := s.pool.Acquire(ctx)
	must(t, err)
	defer c.Release()
	// 20 tenants of 2,500 connections, 100 users each; 20 rooms of
	// 2,500 memberships per tenant's first room.
	_, err = c.Exec(ctx, `INSERT INTO connections (`+connCols+`)
		SELECT 'c' || i, 't' || (i % 20), 'u' || (i % 2000), 'U', 1, 1000 + i, 'ip', 'ua' FROM generate_series(1, 50000) AS i`)
	must(t, err)
	_, err = c.Exec(ctx, `INSERT INTO memberships (`+memberCols+`)
		SELECT 't' || (i % 20), 'r' || (i % 20), 'c' || i, 'u' || (i % 2000), 'U', 1, 1000 + i FROM generate_series(1, 50000) AS i`)
	must(t, err)
	_, err = c.Exec(ctx, `ANALYZE connections, memberships`)
	must(t, err)
	_, err = c.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	must(t, err)
	for name, q := range map[string]struct {
		sql, args, index string
	}{
		"CountTenantConnections": {qCountTenantConnections, `'t5', 1500, 1001`, "connections_by_user"},
		"CountUserConnections":   {qCountUserConnections, `'t5', 'u5', 1500, 200`, "connections_by_user"},
		"AddConnection":          {qAddConnection, `'cx', 't5', 'u5', 'U', 1, 2, 'ip', 'ua', 1500, 200, 200`, "connections_by_user"},
		"CountRoomMembers":       {qCountRoomMembers, `'t5', 'r5', 1500, 101`, "memberships_pkey"},
	} {
		for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
			_, err = c.Exec(ctx, `SET plan_cache_mode = `+mode)
			must(t, err)
			stmt := strings.ReplaceAll(strings.ToLower(name), " ", "_")
			_, err = c.Exec(ctx, `DEALLOCATE ALL`)
			must(t, err)
			_, err = c.Exec(ctx, fmt.Sprintf(`PREPARE %s AS %s`, stmt, q.sql), pgx.QueryExecModeSimpleProtocol)
			must(t, err)
			rows, err := c.Query(ctx, fmt.Sprintf(`EXPLAIN EXECUTE %s(%s)`, stmt, q.args), pgx.QueryExecModeSimpleProtocol)
			must(t, err)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			must(t, err)
			plan := strings.Join(lines, "\n")
			ordered := strings.Contains(plan, "Index Scan using "+q.index) || strings.Contains(plan, "Index Only Scan using "+q.index)
			if mode == "force_generic_plan" && (!ordered || strings.Contains(plan, "Bitmap")) {
				t.Errorf("%s, %s: not an ordered scan of %s that stops at the LIMIT:\n%s", name, mode, q.index, plan)
			}
			if strings.Contains(plan, "_by_expiry") || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s, %s: reads beyond the range of its keys:\n%s", name, mode, plan)
			}
		}
	}
}
