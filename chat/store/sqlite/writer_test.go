package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// inOneBatch runs the writes of fns concurrently so that the writer takes
// them into one transaction: it holds the writer's lock (as a sweep does)
// until all but the first, which the writer has taken and waits with, are
// queued behind it. It returns each one's error, in the order of fns.
func inOneBatch(t *testing.T, s *Store, fns ...func() error) []error {
	t.Helper()
	if err := s.lockWrite(t.Context()); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Go(func() { errs[i] = fns[i]() })
	}
	// The writer takes at most one write, then waits for the lock.
	queued := s.wstats.queued.Load()
	for i := range fns {
		start(i) // in order: each after the one before is queued
		testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == queued+int64(i)+1 }, "write %d was not queued", i)
	}
	commits := s.wstats.commits.Load()
	s.unlockWrite()
	wg.Wait()
	if got := s.wstats.commits.Load() - commits; got != 1 {
		t.Fatalf("%d writes made %d commits, want one", len(fns), got)
	}
	return errs
}

// TestGroupCommitAnswersEachWrite: writes committed together are each
// answered with their own error, and a failed write's changes are rolled
// back (its savepoint) while the others' are committed.
func TestGroupCommitAnswersEachWrite(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	now := time.Now()
	conn := func(id string) store.Connection {
		return store.Connection{ConnectionID: id, TenantID: "t", UserID: "u-" + id, Username: id, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.PutConnection(ctx, conn("taken")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	errs := inOneBatch(t, s,
		// The first write of a transaction runs without a savepoint: its
		// failure must not cost the others.
		func() error { return s.PutConnection(ctx, conn("taken")) },
		func() error { return s.PutConnection(ctx, conn("a")) },
		// A write that writes, then fails: its row must not stay.
		func() error {
			return s.write(ctx, &writeReq{run: func(ctx context.Context, tx txStmts, b *batch) error {
				if err := putConnection(ctx, tx, b, conn("half")); err != nil {
					return err
				}
				return boom
			}, apply: func() { t.Error("apply of a failed write ran") }})
		},
		func() error { _, err := s.JoinRoom(ctx, member("a", "r")); return err },
		func() error { return s.PutConnection(ctx, conn("b")) },
	)
	want := []error{store.ErrExists, nil, boom, nil, nil}
	for i, err := range errs {
		if !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
			t.Errorf("write %d: %v, want %v", i, err, want[i])
		}
	}
	// What the readers see (the index) and what is in the file agree.
	for id, live := range map[string]bool{"a": true, "b": true, "taken": true, "half": false} {
		if _, err := s.GetConnection(ctx, id); (err == nil) != live {
			t.Errorf("GetConnection(%q): %v, want live %v", id, err, live)
		}
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM connections WHERE connection_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != live {
			t.Errorf("%d rows of connection %q in the database, want live %v", n, id, live)
		}
	}
	if ms, _ := s.RoomMembers(ctx, "t", "r"); len(ms) != 1 || ms[0].ConnectionID != "a" {
		t.Errorf("members of r: %v, want a", ms)
	}
}

func member(conn, room string) store.Membership {
	now := time.Now()
	return store.Membership{TenantID: "t", RoomID: room, ConnectionID: conn, UserID: "u-" + conn, Username: conn,
		JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// TestGroupCommitKeepsDecisionsExact: what a write decides from the
// committed state (a user's first hold of a room, a user's connection
// count against the limit) is the same as if the writes of a batch had
// been committed one by one.
func TestGroupCommitKeepsDecisionsExact(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	now := time.Now()
	const limit = 3
	var fns []func() error
	befores := make([]int, 5)
	for i := range 5 {
		fns = append(fns, func() error {
			var err error
			befores[i], err = s.AddConnection(ctx, store.Connection{ConnectionID: fmt.Sprintf("c%d", i), TenantID: "t",
				UserID: "alice", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}, limit)
			return err
		})
	}
	errs := make([]error, 0)
	// The writer commits the first batch when a second connection of
	// alice comes: inOneBatch would see several commits. Run them
	// together, then count.
	if err := s.lockWrite(ctx); err != nil {
		t.Fatal(err)
	}
	queued := s.wstats.queued.Load()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, f := range fns {
		wg.Go(func() {
			err := f()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == queued+int64(len(fns)) }, "the writes were not queued")
	s.unlockWrite()
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConnectionLimit):
			refused++
		default:
			t.Errorf("AddConnection: %v", err)
		}
	}
	if ok != limit || refused != len(fns)-limit {
		t.Errorf("%d connections added and %d refused at a limit of %d, want %d and %d", ok, refused, limit, limit, len(fns)-limit)
	}
	if n, _ := s.CountUserConnections(ctx, "t", "alice", 100); n != limit {
		t.Errorf("alice has %d connections, want %d", n, limit)
	}

	// Two connections of bob join a room in one batch: one is his first.
	for _, id := range []string{"b1", "b2"} {
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: "bob", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	joins := make([]store.Join, 2)
	join := func(i int, id string) func() error {
		return func() error {
			m := member(id, "r")
			m.UserID = "bob"
			var err error
			joins[i], err = s.JoinRoom(ctx, m)
			return err
		}
	}
	for i, err := range inOneBatch(t, s, join(0, "b1"), join(1, "b2")) {
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if !joins[0].Joined || !joins[1].Joined || !joins[0].First || joins[1].First {
		t.Errorf("joins of bob's two connections in one batch: %+v, want both joined, the first first", joins)
	}
	// And both leave in one batch: the second is his last.
	leaves := make([]store.Leave, 2)
	leave := func(i int, id string) func() error {
		return func() error {
			var err error
			leaves[i], err = s.LeaveRoom(ctx, "t", "r", id)
			return err
		}
	}
	for i, err := range inOneBatch(t, s, leave(0, "b1"), leave(1, "b2")) {
		if err != nil {
			t.Fatalf("leave %d: %v", i, err)
		}
	}
	if !leaves[0].Left || !leaves[1].Left || leaves[0].Last || !leaves[1].Last {
		t.Errorf("leaves of bob's two connections in one batch: %+v, want both left, the second last", leaves)
	}
}

// TestGroupCommitGivesUpQueuedWrite: a write whose context ends while it
// waits in the queue is not run.
func TestGroupCommitGivesUpQueuedWrite(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	now := time.Now()
	if err := s.lockWrite(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		s.PutConnection(t.Context(), store.Connection{ConnectionID: "first", TenantID: "t", UserID: "u", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	// The writer takes it and waits for the lock: the next write stays
	// in the queue.
	testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == 1 && len(s.wq) == 0 }, "the writer did not take the first write")
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- s.PutConnection(ctx, store.Connection{ConnectionID: "late", TenantID: "t", UserID: "u", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)})
	}()
	testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == 2 }, "the second write was not queued")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("a write given up in the queue: %v, want context.Canceled", err)
	}
	s.unlockWrite()
	wg.Wait()
	if _, err := s.GetConnection(t.Context(), "late"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the write given up was stored: %v", err)
	}
	if _, err := s.GetConnection(t.Context(), "first"); err != nil {
		t.Errorf("the first write: %v", err)
	}
}

// TestGroupCommitLostTransaction: a write after which SQLite has rolled
// back the whole transaction (as it does on some I/O errors) fails the
// writes before it in the batch, which were not committed, with an error
// that says so; the writes queued after it run in the next transaction.
func TestGroupCommitLostTransaction(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	now := time.Now()
	conn := func(id string) store.Connection {
		return store.Connection{ConnectionID: id, TenantID: "t", UserID: "u-" + id, Username: id, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	boom := errors.New("boom")
	errs := make([]error, 4)
	if err := s.lockWrite(ctx); err != nil {
		t.Fatal(err)
	}
	queued := s.wstats.queued.Load()
	var wg sync.WaitGroup
	fns := []func() error{
		func() error { return s.PutConnection(ctx, conn("a")) },
		func() error {
			return s.write(ctx, &writeReq{run: func(ctx context.Context, tx txStmts, b *batch) error {
				if _, err := tx.tx.ExecContext(ctx, "ROLLBACK"); err != nil {
					return err
				}
				return boom
			}})
		},
		func() error { return s.PutConnection(ctx, conn("b")) },
	}
	for i, f := range fns {
		wg.Go(func() { errs[i] = f() })
		testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == queued+int64(i)+1 }, "write %d was not queued", i)
	}
	s.unlockWrite()
	wg.Wait()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "rolled back") {
		t.Errorf("the write before the loss: %v, want an error saying it was rolled back", errs[0])
	}
	if !errors.Is(errs[1], boom) {
		t.Errorf("the write that lost the transaction: %v, want its own error", errs[1])
	}
	if errs[2] != nil {
		t.Errorf("the write after it: %v", errs[2])
	}
	for id, live := range map[string]bool{"a": false, "b": true} {
		if _, err := s.GetConnection(ctx, id); (err == nil) != live {
			t.Errorf("GetConnection(%q): %v, want live %v", id, err, live)
		}
	}
}

// TestGroupCommitSingleWriteFails: a single-statement write (no savepoint
// of its own) whose statement fails loses the transaction, as a failed
// rollback to a savepoint does: the writes before it in the batch are
// answered with an error and not applied, it gets its own error, and the
// write queued after it is committed in the next batch. A single write
// that fails without a failed statement (ErrExists) loses nothing.
func TestGroupCommitSingleWriteFails(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	now := time.Now()
	conn := func(id string) store.Connection {
		return store.Connection{ConnectionID: id, TenantID: "t", UserID: "u-" + id, Username: id, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.PutConnection(ctx, conn("taken")); err != nil {
		t.Fatal(err)
	}
	errs := inOneBatch(t, s,
		func() error { return s.PutConnection(ctx, conn("a")) },
		func() error { return s.PutConnection(ctx, conn("taken")) },
		func() error { return s.PutConnection(ctx, conn("b")) },
	)
	if errs[0] != nil || !errors.Is(errs[1], store.ErrExists) || errs[2] != nil {
		t.Errorf("a batch with a taken id: %v; want nil, ErrExists, nil", errs)
	}

	if err := s.lockWrite(ctx); err != nil {
		t.Fatal(err)
	}
	queued := s.wstats.queued.Load()
	errs = make([]error, 3)
	var wg sync.WaitGroup
	fns := []func() error{
		func() error { return s.PutConnection(ctx, conn("c")) },
		func() error {
			return s.write(ctx, &writeReq{single: true, run: func(ctx context.Context, tx txStmts, b *batch) error {
				_, err := tx.exec(ctx, "INSERT INTO nowhere VALUES (1)") // fails: not a statement of the store
				return err
			}})
		},
		func() error { return s.PutConnection(ctx, conn("d")) },
	}
	for i, f := range fns {
		wg.Go(func() { errs[i] = f() })
		testutil.Eventually(t, 10*time.Second, func() bool { return s.wstats.queued.Load() == queued+int64(i)+1 }, "write %d was not queued", i)
	}
	s.unlockWrite()
	wg.Wait()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "rolled back") {
		t.Errorf("the write before the failed single write: %v, want an error saying it was rolled back", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "not prepared") {
		t.Errorf("the single write that failed: %v, want its own error", errs[1])
	}
	if errs[2] != nil {
		t.Errorf("the write after it: %v", errs[2])
	}
	for id, live := range map[string]bool{"a": true, "b": true, "c": false, "d": true} {
		if _, err := s.GetConnection(ctx, id); (err == nil) != live {
			t.Errorf("GetConnection(%q): %v, want live %v", id, err, live)
		}
	}
}
