// Package sqlite is the embedded implementation of store.Store: one SQLite
// database file (modernc.org/sqlite, pure Go) in WAL mode, written through a
// single connection and read through a separate pool, so that reads never
// queue behind writes. docs/store.md lists the tables and indexes.
//
// Rooms and messages are durable in SQLite. The connection-scoped state —
// connections, room memberships, holds and typing slots — is kept in
// memory only (index.go): it belongs to the WebSocket connections of this
// process, which die with it, so the next process on the data directory
// starts with none (nobody shown online, no room members) and nothing of
// it costs a write to SQLite. The store owns its data directory: Open
// locks it, and a second Open of the same directory, in this process or
// another, fails with ErrLocked until the first store is closed.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/switchboard-ws/switchboard/chat/store"
)

// FileName is the database file Open uses inside its directory.
const FileName = "switchboard.db"

// LockFileName is the file in the data directory that Open locks.
const LockFileName = "switchboard.lock"

// ErrLocked is returned by Open when another store holds the data
// directory (another `switchboard dev` on the same directory, say).
var ErrLocked = errors.New("the data directory is in use by another switchboard process")

// Listing limits: a Page.Limit of zero or less means DefaultLimit; larger
// than MaxLimit means MaxLimit. DeleteExpired's limit defaults likewise.
const (
	DefaultLimit = store.DefaultPageLimit
	MaxLimit     = store.MaxPageLimit
)

// busyTimeout is how long a statement waits for a lock held by another
// process (within this process the writer pool already serialises writes).
const busyTimeout = 5 * time.Second

// Options configure Open.
type Options struct {
	// Now is the clock deciding which connections and memberships have
	// expired; nil means time.Now.
	Now func() time.Time
}

// Store is a store.Store (and store.Sweeper) over one SQLite database.
// It is safe for concurrent use.
type Store struct {
	w   *sql.DB // exactly one connection: every write, in order
	r   *sql.DB // read-only pool
	ws  *stmtCache
	rs  *stmtCache
	now func() time.Time

	// cmu serialises the writes of the connection-scoped state (index.go,
	// holds.go): each is a few map operations under it, so that a count
	// and the write it decides (a connection limit, a user's first join
	// of a room) are one step. Reads take only the index's shard locks.
	cmu     sync.Mutex
	idx     *index
	holds   map[holdKey]int      // the memberships each user holds in each room; under cmu
	pending map[memberKey]string // memberships swept but not released yet: their user, by key; under cmu
	rooms   roomCache            // rooms read (rooms.go)
	unlock  func() error         // releases the data directory

	closed    atomic.Bool // reads from the index fail once set
	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Sweeper = (*Store)(nil)
)

// Open opens (creating if needed) the database in dir/switchboard.db,
// creating dir if needed, and brings its schema up to date.
// The store starts with no connections, memberships or typing slots:
// those of the process that had the directory before died with it.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open: path %q contains '?'", path)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	unlock, err := lockDir(filepath.Join(dir, LockFileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", dir, err)
	}
	s, err := open(path, now)
	if err != nil {
		unlock()
		return nil, err
	}
	s.unlock = unlock
	return s, nil
}

// open opens the database at path, once its directory is locked.
func open(path string, now func() time.Time) (*Store, error) {
	bt := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds())

	// The writer. WAL lets readers proceed while it writes. In WAL mode,
	// synchronous=NORMAL does not fsync on every commit, only at
	// checkpoints: a committed transaction survives a crash of this process
	// (it is in the WAL file, in the OS's page cache), though the last
	// transactions before a power loss or OS crash may be rolled back; the
	// database is never corrupted. _txlock=immediate makes BEGIN take the
	// write lock at once, so that a transaction never fails half way to
	// upgrade a read lock (SQLITE_BUSY) when another process writes too.
	w, err := sql.Open("sqlite", path+"?"+bt+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(context.Background(), w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	// The readers: query_only makes any write through them an error. Each
	// read sees every transaction committed before it began.
	r, err := sql.Open("sqlite", path+"?"+bt+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.Ping(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ws, err := newStmtCache(context.Background(), w, writeQueries)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rs, err := newStmtCache(context.Background(), r, readQueries)
	if err != nil {
		ws.close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{w: w, r: r, ws: ws, rs: rs, now: now, idx: newIndex(),
		holds: map[holdKey]int{}, pending: map[memberKey]string{}}
	return s, nil
}

// The statements of each pool, prepared by Open.
var (
	writeQueries = []string{
		qCreateRoom, qRoomAccess, qPutMessage, qEditMessage, qDeleteMessage,
	}
	readQueries = []string{
		qGetRoom, qPublicRooms, qPrivateRooms, qAllRooms,
		qGetMessage, qMessageAuthor, qListMessages, qListMessagesFirst,
	}
)

// Close closes the database; closing twice is not an error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		err1 := errors.Join(s.rs.close(), s.ws.close())
		err2 := s.r.Close()
		err3 := s.w.Close()
		err4 := s.unlock()
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// errClosed is the error of reads after Close (the pools give their own).
var errClosed = errors.New("store is closed")

// readable fails once the store is closed.
func (s *Store) readable() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// nowMs is the store's clock in integer milliseconds, the unit of every
// time column.
func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// ms and fromMs convert times to and from the columns: integer milliseconds
// since the Unix epoch, UTC. The zero time round-trips.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE), committing if it
// returns nil; fn runs the writer's cached statements through tx.
func (s *Store) inTx(ctx context.Context, fn func(tx txStmts) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(txStmts{c: s.ws, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
