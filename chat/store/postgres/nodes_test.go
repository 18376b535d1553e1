package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// What the conformance suite cannot see: several nodes (stores with pools
// of their own) on one database.

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func conn(id, tenant, user string, expires time.Time) store.Connection {
	return store.Connection{ConnectionID: id, TenantID: tenant, UserID: user, Username: "name of " + user,
		ConnectedAt: t0, ExpiresAt: expires, SourceIP: "::1", UserAgent: "test"}
}

func member(c store.Connection, room string) store.Membership {
	return store.Membership{TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID,
		UserID: c.UserID, Username: c.Username, JoinedAt: t0, ExpiresAt: c.ExpiresAt}
}

// Nodes starting together on an empty database: one migrates, the others
// wait for its lock and find the schema up to date.
func TestMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			s, err := Open(t.Context(), url, Options{MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Open: %v", i, err)
		}
	}
	s := open(t, url, nil)
	var n, max int
	must(t, s.pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max))
	if n != SchemaVersion() || max != SchemaVersion() {
		t.Errorf("schema_migrations: %d rows up to version %d, want %d", n, max, SchemaVersion())
	}

	// A database migrated by a newer program is refused, and left alone.
	_, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')`, SchemaVersion()+1)
	must(t, err)
	_, err = Open(t.Context(), url, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this program's") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// Two nodes see each other's writes at once: nothing is cached.
func TestNodesShareState(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	a, b := open(t, url, fixed(t0)), open(t, url, fixed(t0))
	ctx := t.Context()
	c1 := conn("c1", "t", "alice", t0.Add(time.Minute))
	must(t, a.PutConnection(ctx, c1))
	if n, err := b.CountUserConnections(ctx, "t", "alice", 5); err != nil || n != 1 {
		t.Fatalf("count on the other node = %d, %v; want 1", n, err)
	}
	must(t, b.PutConnection(ctx, conn("c2", "t", "bob", t0.Add(time.Minute))))
	if j, err := a.JoinRoom(ctx, member(c1, "r"), 0); err != nil || !j.First {
		t.Fatalf("JoinRoom = %+v, %v", j, err)
	}
	rm, err := b.RoomMembers(ctx, "t", "r")
	must(t, err)
	if ms := rm.Slice(); len(ms) != 1 || ms[0].ConnectionID != "c1" {
		t.Fatalf("RoomMembers on the other node: %+v", ms)
	}
	if _, _, err := b.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.CountUserConnections(ctx, "t", "alice", 5); err != nil || n != 0 {
		t.Errorf("count after the other node deleted = %d, %v; want 0", n, err)
	}
	if ms, err := a.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != 0 {
		t.Errorf("RoomMembers after the other node deleted: %+v, %v", ms.Slice(), err)
	}
	if _, _, err := a.DeleteConnection(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteConnection, on the other node: %v", err)
	}
}

// Nodes sweeping at once, while others delete connections themselves
// ($disconnect): every expired connection and membership is handed out
// exactly once, so no user_left or offline is announced twice.
func TestSweepOncePerItem(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	expiry := t0.Add(time.Minute)
	setup := open(t, url, fixed(t0))
	ctx := t.Context()
	const conns, rooms = 150, 3
	for i := range conns {
		c := conn(fmt.Sprintf("c%03d", i), "t", fmt.Sprintf("u%d", i%20), expiry.Add(time.Duration(i)*time.Millisecond))
		must(t, setup.PutConnection(ctx, c))
		for r := range rooms {
			if _, err := setup.JoinRoom(ctx, member(c, fmt.Sprintf("r%d", r)), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	later := expiry.Add(time.Hour)
	const nodes, workers = 3, 3
	var mu sync.Mutex
	seenConn := map[string]int{}
	seenMember := map[string]int{}
	record := func(c string, ms []string) {
		mu.Lock()
		defer mu.Unlock()
		if c != "" {
			seenConn[c]++
		}
		for _, m := range ms {
			seenMember[m]++
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for n := range nodes {
		s := open(t, url, fixed(later))
		for range workers {
			wg.Go(func() {
				<-start
				for {
					imgs, err := s.DeleteExpired(ctx, later, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(imgs) == 0 {
						return
					}
					for _, img := range imgs {
						switch img.Type() {
						case store.TypeConnection:
							c, err := img.Connection()
							must(t, err)
							record(c.ConnectionID, nil)
						case store.TypeMembership:
							m, err := img.Membership()
							must(t, err)
							record("", []string{m.ConnectionID + "/" + m.RoomID})
						}
					}
				}
			})
		}
		// One $disconnect worker per node, racing the sweepers.
		wg.Go(func() {
			<-start
			for i := n; i < conns; i += 10 {
				c, ms, err := s.DeleteConnection(ctx, fmt.Sprintf("c%03d", i))
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				var keys []string
				for _, m := range ms {
					keys = append(keys, m.ConnectionID+"/"+m.RoomID)
				}
				record(c.ConnectionID, keys)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(seenConn) != conns || len(seenMember) != conns*rooms {
		t.Errorf("handed out %d connections and %d memberships, want %d and %d", len(seenConn), len(seenMember), conns, conns*rooms)
	}
	for k, n := range seenConn {
		if n != 1 {
			t.Errorf("connection %s handed out %d times", k, n)
		}
	}
	for k, n := range seenMember {
		if n != 1 {
			t.Errorf("membership %s handed out %d times", k, n)
		}
	}
	if imgs, err := setup.DeleteExpired(ctx, later, 100); err != nil || len(imgs) != 0 {
		t.Errorf("after the sweeps: %d images, %v", len(imgs), err)
	}
}

// Every request-path query can be served by an index: with sequential
// scans discouraged, no plan contains one.
func TestQueryPlans(t *testing.T) {
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
		"GetConnection":           {qGetConnection, []any{"c", int64(1)}},
		"DeleteConnection":        {qDeleteConnection, []any{"c"}},
		"TouchConnection":         {qTouchConnection, []any{"c", int64(2), int64(1)}},
		"UserConnections":         {qUserConnections, []any{"t", "u", int64(1)}},
		"CountUserConnections":    {qCountUserConnections, []any{"t", "u", int64(1), 5}},
		"TenantConnections":       {qTenantConnections, []any{"t", int64(1)}},
		"CountTenantConnections":  {qCountTenantConnections, []any{"t", int64(1), 5}},
		"JoinRoom":                {qJoinHold, []any{"t", "r", "c", "u", "n", int64(1), int64(2), int64(1), 100}},
		"LeaveRoom user":          {qMembershipUser, []any{"t", "r", "c"}},
		"LeaveRoom":               {qLeaveRelease, []any{"t", "r", "c", "u"}},
		"ReleaseMembership":       {qRelease, []any{"t", "r", "u", "c"}},
		"lock connection holds":   {qLockConnectionHolds, []any{"c"}},
		"lock of a join":          {qLockJoin, []any{"c", "t", "r", "u", true}},
		"lock deleted connection": {qLockDeleteConnection, []any{"c"}},
		"lock deleted row":        {qLockDeleteConnectionRow, []any{"c"}},
		"lock dead connections":   {qLockNodeConnections, []any{[]string{"c"}}},
		"CountRoomMembers":        {qCountRoomMembers, []any{"t", "r", int64(1), 5}},
		"RoomMembers":             {qRoomMemberRows, []any{"t", "r", int64(1)}},
		"ConnectionRooms":         {qConnectionRooms, []any{"c", int64(1)}},
		"GetRoom":                 {qGetRoom, []any{"t", "r"}},
		"ListRooms public":        {qPublicRooms, []any{"t", int64(1), "r", 5}},
		"ListRooms private":       {qPrivateRooms, []any{"t", int64(1), "r", 5, "u"}},
		"ListRooms all":           {qAllRooms, []any{"t", int64(1), "r", 5, "u"}},
		"GetMessage":              {qGetMessage, []any{"t", "m"}},
		"AddConnection":           {qAddConnection, []any{"c", "t", "u", "U", int64(1), int64(2), "ip", "ua", int64(1), 5, 5}},
		"SendMessage": {qSendMessage, []any{"t", "m", "r", "u", "U", []byte("x"), "TEXT", int64(1), nil, false, "",
			"c", int64(1)}},
		"EditMessage":        {qEditMessage, []any{"t", "m", "u", []byte("x"), int64(1)}},
		"ListMessages":       {qListMessages, []any{"t", "r", "m", 5}},
		"ListMessages first": {qListMessagesFirst, []any{"t", "r", 5}},
		"sweep memberships":  {qSweepMemberships, []any{int64(1), 5}},
		"sweep connections":  {qSweepConnections, []any{int64(1), 5}},
		"sweep typing slots": {qSweepTypingSlots, []any{int64(1), 5}},
	} {
		rows, err := c.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		must(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		plan := strings.Join(lines, "\n")
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: a sequential scan:\n%s", name, plan)
		}
		// Whether a user holds another membership in a room is a search
		// of the user's holds, not a read of the room.
		if strings.Contains(plan, "room_holds") && !regexp.MustCompile(`Index Cond: .*user_id = `).MatchString(plan) {
			t.Errorf("%s: reads room_holds beyond the user's:\n%s", name, plan)
		}
	}
}

// With PostgreSQL unreachable, Open fails within the connect timeout,
// saying so; a store whose server goes away returns errors, not hangs.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = Open(ctx, "postgres://switchboard:secret-password@"+addr+"/db?sslmode=disable", Options{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "postgres: open") {
		t.Errorf("Open error: %v", err)
	}

	// A store whose database is dropped under it (what a client sees
	// when the server restarts is the same: an error for that request).
	url := testutil.Postgres(t)
	s := open(t, url, fixed(t0))
	must(t, s.PutConnection(ctx, conn("c1", "t", "u", t0.Add(time.Minute))))
	_, err = s.pool.Exec(ctx, `DROP TABLE connections CASCADE`)
	must(t, err)
	if _, err := s.GetConnection(ctx, "c1"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConnection without its table: %v, want an error other than not found", err)
	}
}

// After the server ends the pool's connections (a restart, an
// administrator), the next call succeeds: the dead connections are
// dropped and the statement runs on a new one, instead of one request
// failing per pooled connection.
func TestRecoversFromCutConnections(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	s := open(t, url, fixed(t0))
	ctx := t.Context()
	must(t, s.PutConnection(ctx, conn("c1", "t", "u", t0.Add(time.Minute))))
	// Fill the pool with idle connections.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { s.GetConnection(ctx, "c1") })
	}
	wg.Wait()
	admin, err := pgx.Connect(ctx, url)
	must(t, err)
	defer admin.Close(context.Background())
	var n int
	must(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n))
	if n == 0 {
		t.Fatal("no connection of the pool to end")
	}
	for i := range 3 {
		if _, err := s.GetConnection(ctx, "c1"); err != nil {
			t.Errorf("GetConnection %d after %d connections were ended: %v", i, n, err)
		}
	}
	m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(t0), UserID: "u", Content: "x",
		MessageType: store.MessageText, CreatedAt: t0}
	must(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n))
	if err := s.PutMessage(ctx, m); err != nil {
		t.Errorf("PutMessage after the connections were ended: %v", err)
	}
	if err := s.PutMessage(ctx, m); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutMessage of the same id again: %v, want ErrExists", err)
	}
}

// One user's connections joining and leaving a room at once through
// several nodes: exactly one join is the user's first and exactly one
// leave (LeaveRoom, DeleteConnection, or the release of an expired
// membership) the last, so user_joined and user_left are announced once.
func TestHoldsAcrossNodes(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	const nodes, perNode = 3, 4
	stores := make([]*Store, nodes)
	for i := range stores {
		stores[i] = open(t, url, fixed(t0))
	}
	ctx := t.Context()
	var cs []store.Connection
	for i := range nodes * perNode {
		c := conn(fmt.Sprintf("c%02d", i), "t", "alice", t0.Add(time.Hour))
		must(t, stores[0].PutConnection(ctx, c))
		cs = append(cs, c)
	}
	at := func(i int) *Store { return stores[i%nodes] }
	all := func(fn func(i int)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range cs {
			wg.Go(func() { <-start; fn(i) })
		}
		close(start)
		wg.Wait()
	}
	for round := range 4 {
		var mu sync.Mutex
		firsts, lasts := 0, 0
		all(func(i int) {
			j, err := at(i).JoinRoom(ctx, member(cs[i], "r"), 0)
			if err != nil || !j.Joined {
				t.Errorf("JoinRoom(%s) = %+v, %v", cs[i].ConnectionID, j, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if j.First {
				firsts++
			}
		})
		all(func(i int) {
			var last bool
			switch (i + round) % 3 {
			case 0:
				l, err := at(i).LeaveRoom(ctx, "t", "r", cs[i].ConnectionID)
				must(t, err)
				last = l.Last
			case 1:
				_, ms, err := at(i).DeleteConnection(ctx, cs[i].ConnectionID)
				must(t, err)
				last = len(ms) == 1 && ms[0].Last
				must(t, at(i).PutConnection(ctx, cs[i]))
			case 2: // as if swept: the membership gone, its hold released
				_, err := at(i).pool.Exec(ctx, `DELETE FROM memberships WHERE connection_id = $1`, cs[i].ConnectionID)
				must(t, err)
				last, err = at(i).ReleaseMembership(ctx, member(cs[i], "r"))
				must(t, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if last {
				lasts++
			}
		})
		if firsts != 1 || lasts != 1 {
			t.Fatalf("round %d: %d joins reported first and %d leaves last, of %d connections on %d nodes; want 1 and 1",
				round, firsts, lasts, len(cs), nodes)
		}
	}
}
