package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// The queries that remove a dead node's connections use the primary key
// and the memberships' connection index: no sequential scan of the tables
// however many connections the other nodes hold.
func TestNodeQueryPlans(t *testing.T) {
	t.Parallel()
	s := open(t, testutil.Postgres(t), fixed(t0))
	ctx := t.Context()
	c, err := s.pool.Acquire(ctx)
	must(t, err)
	defer c.Release()
	_, err = c.Exec(ctx, `SET enable_seqscan = off`)
	must(t, err)
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"node connections": {qDeleteNodeConnections, []any{"AAAA", "AAAA~", 5}},
		"node memberships": {qDeleteNodeMemberships, []any{[]string{"c"}}},
		"node typing":      {qDeleteNodeTypingSlots, []any{[]string{"c"}}},
	} {
		rows, err := c.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		must(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		if plan := strings.Join(lines, "\n"); strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: a sequential scan:\n%s", name, plan)
		}
	}
}
