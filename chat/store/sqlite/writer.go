package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Group commit. The writes of the request path (connections, memberships,
// holds: everything the index mirrors) are not committed one by one: a
// single goroutine, the writer, takes the writes waiting in its queue and
// runs as many as are there (up to DefaultMaxBatch) in one transaction,
// each in its own SAVEPOINT (but the single-statement ones: writeReq.single),
// then commits once, updates the index in
// order, and answers them all. A commit costs the WAL frames of the pages
// it changed and, now and then, a checkpoint: a batch pays them once for
// all its writes, which mostly change the same pages.
//
// Durability is unchanged: nobody is answered before the commit that holds
// their write. A write that fails is rolled back to its savepoint and
// answered with its own error; the others commit. A commit that fails
// fails every write of the batch, and the index is not changed.
//
// The writer waits for nothing to fill a batch: a batch is whatever queued
// while the previous one ran, and what the goroutines ready to run queue
// when the writer, finding the queue empty, lets them go first once
// (nextWrite); a lone write on an idle machine is committed at once.

// DefaultMaxBatch is the most writes one group commit holds.
const DefaultMaxBatch = 128

// DefaultWriteQueue is how many writes may wait for the writer; a write
// beyond them waits for room (or for its context).
const DefaultWriteQueue = 1024

const (
	qSavepoint  = `SAVEPOINT w`
	qRelease    = `RELEASE w`
	qRollbackTo = `ROLLBACK TO w`
)

// writeReq is one write for the writer.
type writeReq struct {
	ctx context.Context // the caller's: a write not started when it ends is not run
	// admit, if set, says whether the write may join the batch b, which
	// holds the writes run since the last commit; false: it runs first in
	// the next batch. A write whose decision reads the index (which shows
	// only committed, applied writes) refuses a batch that changed what it
	// reads.
	admit func(b *batch) bool
	// run does the write in tx (inside its savepoint). ctx carries the
	// caller's values but is never cancelled: interrupting a statement of
	// an open transaction may roll the whole transaction back.
	run func(ctx context.Context, tx txStmts, b *batch) error
	// single says that run writes with one statement at most, through
	// tx.exec, and fails either in that statement or before it, having
	// written nothing: it needs no savepoint of its own (SQLite undoes a
	// failed statement's changes itself). A single write whose statement
	// fails loses the transaction (the failures a statement that cannot
	// break a constraint meets, an I/O error or a full disk, may have
	// rolled it back): the batch is answered with an error, as when a
	// rollback to a savepoint fails.
	single bool
	// apply, if set, runs after the commit, in commit order, for a write
	// whose run succeeded: it updates the index and the holds.
	apply func()

	state atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	err   error        // set before done is closed
	done  chan struct{}
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// batch is what the writes of one transaction have changed so far.
type batch struct {
	// users are the users whose connections a write of the batch added or
	// removed (AddConnection counts them in the index).
	users map[userRef]bool
}

// userRef is a user of a tenant.
type userRef struct{ tenant, user string }

// writerStats counts the writer's work (tests and benchmarks read it).
type writerStats struct {
	queued  atomic.Int64 // writes handed to the writer's queue
	commits atomic.Int64 // transactions committed
	writes  atomic.Int64 // writes run in them
}

// write queues r for the writer and waits for its answer. A write the
// writer has started is always waited for: its caller learns whether it
// was committed, even if ctx ends meanwhile.
func (s *Store) write(ctx context.Context, r *writeReq) error {
	if err := s.readable(); err != nil {
		return err
	}
	r.ctx = ctx
	r.done = make(chan struct{})
	select {
	case s.wq <- r:
		s.wstats.queued.Add(1)
	case <-ctx.Done():
		return ctx.Err()
	case <-s.wstop:
		return errClosed
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
	case <-s.wstopped:
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return errClosed
		}
	}
	<-r.done
	return r.err
}

// startWriter starts the writer goroutine; stopWriter ends it and waits.
func (s *Store) startWriter() {
	s.wq = make(chan *writeReq, DefaultWriteQueue)
	s.wstop = make(chan struct{})
	s.wstopped = make(chan struct{})
	s.wctx, s.wcancel = context.WithCancel(context.Background())
	for _, q := range []string{qSavepoint, qRelease, qRollbackTo} {
		if _, ok := s.ws.m[q]; !ok {
			panic("sqlite: writer statement not prepared: " + q)
		}
	}
	go func() {
		defer close(s.wstopped)
		s.writer()
	}()
}

func (s *Store) stopWriter() {
	close(s.wstop)
	s.wcancel()
	<-s.wstopped
}

// writer runs batches until stopWriter.
func (s *Store) writer() {
	var next *writeReq
	for s.wctx.Err() == nil {
		if next == nil {
			select {
			case next = <-s.wq:
			case <-s.wstop:
				return
			}
		}
		next = s.runBatch(next)
	}
}

// runBatch runs first and the writes queued behind it in one transaction
// and answers them; it returns a write that did not fit (admit said no),
// which starts the next batch. A write is taken (its caller waits for its
// answer) only once the transaction has begun: until then, its caller may
// give up.
func (s *Store) runBatch(first *writeReq) (carry *writeReq) {
	select {
	case s.wsem <- struct{}{}: // the index changes in commit order; sweeps wait
	case <-s.wstop:
		return nil // first's caller gives up: it was not taken
	}
	defer s.unlockWrite()
	// The connection, then the transaction: waiting for the connection
	// (a sweep's or a room's transaction holds it) ends with Close, while
	// the transaction's context is never cancelled (that would roll back
	// a batch half way).
	conn, err := s.w.Conn(s.wctx)
	if err != nil {
		if s.wctx.Err() == nil && first.state.CompareAndSwap(reqQueued, reqTaken) {
			answer(first, fmt.Errorf("the writer's connection: %w", err))
		}
		return nil
	}
	defer conn.Close()
	ctx := context.Background()
	var (
		tx  *sql.Tx
		t   txStmts
		b   *batch
		ran []*writeReq // run in tx, not answered yet
	)
	// one runs r in its savepoint; false if the transaction is lost (a
	// failed rollback to the savepoint: SQLite rolled it all back).
	one := func(r *writeReq) bool {
		ran = append(ran, r)
		if r.single {
			failed := false
			r.err = r.run(context.WithoutCancel(r.ctx), txStmts{c: t.c, tx: t.tx, failed: &failed}, b)
			return !failed
		}
		if _, err := t.exec(ctx, qSavepoint); err != nil {
			r.err = fmt.Errorf("savepoint: %w", err)
			return false
		}
		r.err = r.run(context.WithoutCancel(r.ctx), t, b)
		if r.err != nil {
			if _, err := t.exec(ctx, qRollbackTo); err != nil {
				r.err = errors.Join(r.err, fmt.Errorf("rolling back to its savepoint: %w", err))
				return false
			}
		}
		if _, err := t.exec(ctx, qRelease); err != nil {
			r.err = errors.Join(r.err, fmt.Errorf("releasing its savepoint: %w", err))
			return false
		}
		return true
	}
	ok, yielded := true, false
	for r := first; r != nil && ok; {
		if len(ran) > 0 && r.admit != nil && !r.admit(b) {
			carry = r
			break
		}
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			switch {
			case tx == nil:
				var err error
				if tx, err = conn.BeginTx(ctx, nil); err != nil {
					tx = nil
					answer(r, fmt.Errorf("beginning a transaction: %w", err))
					return carry
				}
				t, b = txStmts{c: s.ws, tx: tx}, &batch{users: map[userRef]bool{}}
				fallthrough
			case len(ran) == 0:
				// The first write of a transaction needs no savepoint
				// (the common case of a write alone): if it fails, the
				// transaction, which holds nothing else, is rolled back.
				if r.err = r.run(context.WithoutCancel(r.ctx), t, b); r.err != nil {
					tx.Rollback()
					tx = nil
					answer(r, r.err)
				} else {
					ran = append(ran, r)
				}
			default:
				ok = one(r)
			}
		}
		r = nil
		if ok && len(ran) < DefaultMaxBatch {
			r = s.nextWrite(&yielded)
		}
	}
	if tx == nil {
		return carry
	}
	if !ok {
		tx.Rollback()
		lost := errors.New("the transaction was rolled back by a failure of another write in it")
		for _, r := range ran {
			if r.err == nil {
				r.err = lost
			}
			answer(r, r.err)
		}
		return carry
	}
	if err := tx.Commit(); err != nil {
		for _, r := range ran {
			if r.err == nil {
				r.err = fmt.Errorf("commit: %w", err)
			}
			answer(r, r.err)
		}
		return carry
	}
	s.wstats.commits.Add(1)
	s.wstats.writes.Add(int64(len(ran)))
	for _, r := range ran {
		if r.err == nil && r.apply != nil {
			r.apply()
		}
	}
	for _, r := range ran {
		answer(r, r.err)
	}
	return carry
}

// nextWrite takes a queued write for the batch, nil if none. The first
// time the queue is found empty (*yielded false), the writer lets the
// goroutines that are ready to run go first, once: on a busy machine
// they are the handlers about to queue their writes, which then share
// this commit instead of each paying for one (commits, not statements,
// are most of a write's cost). On an idle machine there are none, and the
// batch commits at once.
func (s *Store) nextWrite(yielded *bool) *writeReq {
	select {
	case r := <-s.wq:
		return r
	default:
	}
	if *yielded {
		return nil
	}
	*yielded = true
	runtime.Gosched()
	select {
	case r := <-s.wq:
		return r
	default:
		return nil
	}
}

func answer(r *writeReq, err error) {
	r.err = err
	close(r.done)
}

// rowsAffected is the count of rows res changed.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
