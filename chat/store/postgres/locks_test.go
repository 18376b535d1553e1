package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// qAdvisoryLocks counts the advisory locks of this database, held or
// awaited (granted = $1).
const qAdvisoryLocks = `SELECT count(*) FROM pg_locks
	WHERE locktype = 'advisory' AND granted = $1
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

func advisoryLocks(t *testing.T, s *Store, granted bool) int {
	t.Helper()
	var n int
	must(t, s.pool.QueryRow(t.Context(), qAdvisoryLocks, granted).Scan(&n))
	return n
}

// A DeleteConnection waiting for a join's connection lock, and a join
// waiting for a hold lock, whose contexts end while they wait: they
// return the context's error, leave no advisory lock held or awaited (the
// pool's connections are not left inside a transaction), change nothing,
// and the next calls on the connection go through.
func TestCancelledLockWaitsLeaveNoLocks(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	s := open(t, url, fixed(t0))
	ctx := t.Context()
	c := conn("c1", "t", "u", t0.Add(time.Hour))
	must(t, s.PutConnection(ctx, c))
	if _, err := s.JoinRoom(ctx, member(c, "r1"), 0); err != nil {
		t.Fatal(err)
	}
	blocker, err := pgx.Connect(ctx, url)
	must(t, err)
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(ctx)
	must(t, err)
	// A join of c1 in flight (its connection lock, shared), and a change of
	// u's holds in r2 (the hold lock).
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+connectionLockClass+`, hashtext('c1'))`)
	must(t, err)
	_, err = tx.Exec(ctx, qLockHold, "t", "r2", "u")
	must(t, err)

	waitCancelled := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- call(cctx) }()
		testutil.Eventually(t, 10*time.Second, func() bool { return advisoryLocks(t, s, false) > 0 },
			"%s never waited for the lock", what)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("%s cancelled while it waited for a lock: %v, want context.Canceled", what, err)
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return advisoryLocks(t, s, false) == 0 },
			"%s cancelled: its lock is still awaited", what)
	}
	waitCancelled("DeleteConnection", func(ctx context.Context) error {
		_, _, err := s.DeleteConnection(ctx, "c1")
		return err
	})
	waitCancelled("JoinRoom", func(ctx context.Context) error {
		_, err := s.JoinRoom(ctx, member(c, "r2"), 0)
		return err
	})
	must(t, tx.Commit(ctx))
	testutil.Eventually(t, 10*time.Second, func() bool { return advisoryLocks(t, s, true) == 0 },
		"advisory locks still held after every transaction ended")

	// Nothing changed; the pool's connections work.
	rooms, err := s.ConnectionRooms(ctx, "c1")
	must(t, err)
	if len(rooms) != 1 || rooms[0].RoomID != "r1" {
		t.Errorf("ConnectionRooms after the cancelled calls = %+v, want r1 only", rooms)
	}
	for range 8 { // every connection of the pool, at least once
		if j, err := s.JoinRoom(ctx, member(c, "r1"), 0); err != nil || j.Joined {
			t.Fatalf("JoinRoom again = %+v, %v", j, err)
		}
	}
	if j, err := s.JoinRoom(ctx, member(c, "r2"), 0); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom(r2) after the cancelled one = %+v, %v; want joined, first", j, err)
	}
	_, ms, err := s.DeleteConnection(ctx, "c1")
	must(t, err)
	if len(ms) != 2 || !ms[0].Last || !ms[1].Last {
		t.Errorf("DeleteConnection = %+v, want r1 and r2, each the last", ms)
	}
}

// Two connections whose ids hash alike share an advisory lock: their
// joins and disconnects, all at once, only wait for each other. Each join
// either comes first (and its connection's DeleteConnection returns its
// membership) or finds the connection gone; none is left, nothing fails.
func TestConnectionLockCollision(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	s := open(t, url, fixed(t0))
	ctx := t.Context()
	var x, y string
	must(t, s.pool.QueryRow(ctx, `SELECT min(id), max(id) FROM (
			SELECT 'coll-' || i AS id FROM generate_series(1, 300000) AS i) AS ids
		GROUP BY hashtext(id) HAVING count(*) > 1 LIMIT 1`).Scan(&x, &y))
	for round := range 6 {
		ids := []string{x, y}
		conns := make([]store.Connection, 2)
		for i, id := range ids {
			conns[i] = conn(id, "t", "u-"+id, t0.Add(time.Hour))
			must(t, s.PutConnection(ctx, conns[i]))
		}
		joins := make([]store.Join, 2)
		joinErrs := make([]error, 2)
		dels := make([][]store.Membership, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { joins[i], joinErrs[i] = s.JoinRoom(ctx, member(conns[i], "r"), 0) })
			wg.Go(func() {
				var err error
				if _, dels[i], err = s.DeleteConnection(ctx, ids[i]); err != nil {
					t.Errorf("round %d: DeleteConnection(%s): %v", round, ids[i], err)
				}
			})
		}
		wg.Wait()
		for i, id := range ids {
			switch {
			case joinErrs[i] == nil && joins[i].Joined:
				if len(dels[i]) != 1 || !dels[i][0].Last {
					t.Errorf("round %d: %s joined, DeleteConnection returned %+v", round, id, dels[i])
				}
			case errors.Is(joinErrs[i], store.ErrNotFound):
				if len(dels[i]) != 0 {
					t.Errorf("round %d: %s refused, DeleteConnection returned %+v", round, id, dels[i])
				}
			default:
				t.Errorf("round %d: JoinRoom(%s) = %+v, %v", round, id, joins[i], joinErrs[i])
			}
		}
		if ms, err := s.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != 0 {
			t.Fatalf("round %d: RoomMembers = %+v, %v; want none", round, ms.Slice(), err)
		}
	}
}

// A join waiting for its connection's lock (DeleteConnection holds it
// exclusive) holds no hold lock meanwhile: it takes the connection's lock
// first, so that DeleteConnection, which takes the hold locks after the
// connection's, never waits for a join that waits for it.
func TestJoinTakesConnectionLockBeforeHoldLock(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	s := open(t, url, fixed(t0))
	ctx := t.Context()
	c := conn("c1", "t", "u", t0.Add(time.Hour))
	must(t, s.PutConnection(ctx, c))
	blocker, err := pgx.Connect(ctx, url)
	must(t, err)
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, qLockDeleteConnection, "c1")
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := s.JoinRoom(ctx, member(c, "r1"), 0)
		done <- err
	}()
	testutil.Eventually(t, 10*time.Second, func() bool { return advisoryLocks(t, s, false) > 0 },
		"JoinRoom never waited for the connection's lock")
	var free bool
	// Transaction-scoped: released as the statement's transaction ends.
	must(t, s.pool.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text || '/' || $3::text, 0))`,
		"t", "r1", "u").Scan(&free))
	if !free {
		t.Error("a join waiting for its connection's lock holds the hold lock of its user in the room")
	}
	must(t, tx.Rollback(ctx))
	if err := <-done; err != nil {
		t.Errorf("JoinRoom after the lock was released: %v", err)
	}
}
