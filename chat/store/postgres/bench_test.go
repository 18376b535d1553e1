package postgres

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// The benchmarks run against the test server (internal/testutil: fsync
// off, loopback TCP): they measure round trips and query work, not disk.

func benchStore(b *testing.B) *Store {
	b.Helper()
	return open(b, testutil.Postgres(b), nil)
}

var benchSeq atomic.Int64

func BenchmarkPutConnection(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		id := fmt.Sprintf("conn-%d", benchSeq.Add(1))
		c := store.Connection{ConnectionID: id, TenantID: "t", UserID: "user-" + id, Username: "User",
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "127.0.0.1", UserAgent: "bench"}
		if err := s.PutConnection(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// $connect's question, with 10,000 other users' connections and 50 of
// this user's: reads at most max index entries.
func BenchmarkCountUserConnections(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	_, err := s.pool.Exec(ctx, `INSERT INTO connections
		SELECT 'conn-' || i, 't', 'user-' || (i % 10000), 'User', $1::bigint, $2::bigint, '127.0.0.1', 'bench'
		FROM generate_series(0, 10049) AS i`, time.Now().UnixMilli(), time.Now().Add(time.Hour).UnixMilli())
	must(b, err)
	_, err = s.pool.Exec(ctx, `UPDATE connections SET user_id = 'busy' WHERE connection_id IN (SELECT 'conn-' || i FROM generate_series(10000, 10049) AS i)`)
	must(b, err)
	_, err = s.pool.Exec(ctx, `ANALYZE connections`)
	must(b, err)
	b.ReportAllocs()
	for b.Loop() {
		n, err := s.CountUserConnections(ctx, "t", "busy", 1)
		if err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
}

// connSupply hands out the ids of stored live connections (user
// "user-"+id each), storing them benchConnBatch at a time with the timer
// stopped, so that a benchmark times only the work on them. It also
// counts the WAL the benchmark writes, less its own (walPerOp).
type connSupply struct {
	s       *Store
	b       *testing.B
	ids     []string
	rooms   []string // each new connection's memberships
	prefix  string
	walFrom int64 // the WAL position when the benchmark started
	ownWAL  int64 // the WAL the supply wrote
}

// wal is the server's WAL position in bytes.
func (cs *connSupply) wal() int64 {
	var pos int64
	must(cs.b, cs.s.pool.QueryRow(cs.b.Context(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&pos))
	return pos
}

// start notes the WAL position: call it before the benchmark's loop.
func (cs *connSupply) start() { cs.walFrom = cs.wal() }

// walPerOp reports the WAL bytes per operation (WAL-B/op) the loop wrote:
// a row lock, say, is a WAL record per operation. Autovacuum's writes
// count too: a small excess is noise.
func (cs *connSupply) walPerOp() {
	cs.b.ReportMetric(float64(cs.wal()-cs.walFrom-cs.ownWAL)/float64(cs.b.N), "WAL-B/op")
}

const benchConnBatch = 5000

func (cs *connSupply) next() string {
	if len(cs.ids) == 0 {
		cs.b.StopTimer()
		from := cs.wal()
		ctx, now := cs.b.Context(), time.Now()
		first := benchSeq.Add(benchConnBatch) - benchConnBatch
		_, err := cs.s.pool.Exec(ctx, `INSERT INTO connections
			SELECT $1 || i, 't', 'user-' || $1 || i, 'User', $2::bigint, $3::bigint, '127.0.0.1', 'bench'
			FROM generate_series($4::bigint, $5::bigint) AS i`,
			cs.prefix, now.UnixMilli(), now.Add(time.Hour).UnixMilli(), first, first+benchConnBatch-1)
		must(cs.b, err)
		if len(cs.rooms) > 0 {
			_, err = cs.s.pool.Exec(ctx, `WITH m AS (INSERT INTO memberships
					SELECT 't', room, $1 || i, 'user-' || $1 || i, 'User', $2::bigint, $3::bigint
					FROM generate_series($4::bigint, $5::bigint) AS i, unnest($6::text[]) AS room
					RETURNING tenant_id, room_id, user_id, connection_id)
				INSERT INTO room_holds SELECT * FROM m`,
				cs.prefix, now.UnixMilli(), now.Add(time.Hour).UnixMilli(), first, first+benchConnBatch-1, cs.rooms)
			must(cs.b, err)
		}
		_, err = cs.s.pool.Exec(ctx, `ANALYZE connections, memberships, room_holds`)
		must(cs.b, err)
		for i := first; i < first+benchConnBatch; i++ {
			cs.ids = append(cs.ids, fmt.Sprintf("%s%d", cs.prefix, i))
		}
		cs.ownWAL += cs.wal() - from
		cs.b.StartTimer()
	}
	id := cs.ids[0]
	cs.ids = cs.ids[1:]
	return id
}

// A live connection's first join of a room.
func BenchmarkJoinRoom(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	conns := &connSupply{s: s, b: b, prefix: "join-"}
	b.ReportAllocs()
	conns.start()
	for b.Loop() {
		id := conns.next()
		m := store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "user-" + id, Username: "User",
			JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
		if j, err := s.JoinRoom(ctx, m, 0); err != nil || !j.First {
			b.Fatal(j, err)
		}
	}
	conns.walPerOp()
}

// chat's join before the store capped the connection's rooms and gave
// the membership the connection's expiry: the connection's rooms (the
// cap), the connection (its expiry), then the join.
func BenchmarkJoinRoomReadingConnection(b *testing.B) {
	benchChatJoin(b, "joinread-", true)
}

// chat's join: the membership takes the connection's expiry, and the
// connection's rooms are capped (at chat's default, 100), in the join.
func BenchmarkJoinRoomConnectionExpiry(b *testing.B) {
	benchChatJoin(b, "joinexp-", false)
}

func benchChatJoin(b *testing.B, prefix string, read bool) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	conns := &connSupply{s: s, b: b, prefix: prefix}
	b.ReportAllocs()
	conns.start()
	for b.Loop() {
		id := conns.next()
		m := store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "user-" + id, Username: "User", JoinedAt: now}
		maxRooms := 100
		if read {
			if _, err := s.ConnectionRooms(ctx, id); err != nil {
				b.Fatal(err)
			}
			c, err := s.GetConnection(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			m.ExpiresAt, maxRooms = c.ExpiresAt, 0
		}
		if j, err := s.JoinRoom(ctx, m, maxRooms); err != nil || !j.First {
			b.Fatal(j, err)
		}
	}
	conns.walPerOp()
}

// A heartbeat of a connection in one room (it takes the connection's row
// and lock, then renews the connection and its membership).
func BenchmarkTouchConnection(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	conns := &connSupply{s: s, b: b, prefix: "touch-", rooms: []string{"r"}}
	b.ReportAllocs()
	conns.start()
	exp := time.Now().Add(2 * time.Hour)
	for b.Loop() {
		exp = exp.Add(time.Millisecond)
		if err := s.TouchConnection(ctx, conns.next(), exp); err != nil {
			b.Fatal(err)
		}
	}
	conns.walPerOp()
}

// A disconnect of a connection in one room (its membership and hold
// go with it).
func BenchmarkDeleteConnection(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	conns := &connSupply{s: s, b: b, prefix: "del-", rooms: []string{"r"}}
	b.ReportAllocs()
	conns.start()
	for b.Loop() {
		id := conns.next()
		if _, ms, err := s.DeleteConnection(ctx, id); err != nil || len(ms) != 1 || !ms[0].Last {
			b.Fatal(ms, err)
		}
	}
	conns.walPerOp()
}

func BenchmarkPutMessage(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", Username: "U",
			Content: "a message of typical length, a sentence or two of chat", MessageType: store.MessageText, CreatedAt: now}
		if err := s.PutMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// Callers in parallel: the pool's connections work at once.
func BenchmarkPutMessageParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", Username: "U",
				Content: "a message of typical length, a sentence or two of chat", MessageType: store.MessageText, CreatedAt: now}
			if err := s.PutMessage(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// roomWithMembers is a store with n members in room r and n in another.
func roomWithMembers(b *testing.B, n int) *Store {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	_, err := s.pool.Exec(ctx, `INSERT INTO memberships
		SELECT 't', room, room || '-conn-' || lpad(i::text, 5, '0'), 'user-' || i, 'User', $1::bigint, $2::bigint
		FROM generate_series(0, $3::int - 1) AS i, unnest(ARRAY['r', 'other']) AS room`,
		now.UnixMilli(), now.Add(time.Hour).UnixMilli(), n)
	must(b, err)
	_, err = s.pool.Exec(ctx, `ANALYZE memberships`)
	must(b, err)
	return s
}

func benchRoomMembers(b *testing.B, n int) {
	s := roomWithMembers(b, n)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.RoomMembers(ctx, "t", "r")
		if err != nil || ms.Len() != n {
			b.Fatal(ms.Len(), err)
		}
	}
}

func BenchmarkRoomMembers100(b *testing.B) { benchRoomMembers(b, 100) }

// The fan-out to a large room reads every membership of it.
func BenchmarkRoomMembers10k(b *testing.B) { benchRoomMembers(b, 10000) }

// sendBench is a room of n members, one of them the sender "r-conn-00000".
func sendBench(b *testing.B, n int) (*Store, func() store.Message) {
	s := roomWithMembers(b, n)
	now := time.Now()
	return s, func() store.Message {
		return store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "user-0", Username: "User",
			Content: "a message of typical length, a sentence or two of chat", MessageType: store.MessageText, CreatedAt: now}
	}
}

// sendMessage's store work in one statement: the membership, the insert
// and the recipients of a room of 100.
func BenchmarkSendMessage100(b *testing.B) {
	s, msg := sendBench(b, 100)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if ms, err := s.SendMessage(ctx, "r-conn-00000", msg()); err != nil || ms.Len() != 100 {
			b.Fatal(ms.Len(), err)
		}
	}
}

// The same as three calls, as sendMessage made them before SendMessage:
// the sender's rooms, the insert, the recipients.
func BenchmarkSendMessage100ThreeCalls(b *testing.B) {
	s, msg := sendBench(b, 100)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ConnectionRooms(ctx, "r-conn-00000"); err != nil {
			b.Fatal(err)
		}
		if err := s.PutMessage(ctx, msg()); err != nil {
			b.Fatal(err)
		}
		if ms, err := s.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != 100 {
			b.Fatal(ms.Len(), err)
		}
	}
}

// $connect's store work in one statement, and as the two calls it was.
func BenchmarkAddConnection(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		id := fmt.Sprintf("conn-%d", benchSeq.Add(1))
		c := store.Connection{ConnectionID: id, TenantID: "t", UserID: "user-" + id, Username: "User",
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "127.0.0.1", UserAgent: "bench"}
		if n, err := s.AddConnection(ctx, c, 200); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkAddConnectionTwoCalls(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		id := fmt.Sprintf("conn-%d", benchSeq.Add(1))
		c := store.Connection{ConnectionID: id, TenantID: "t", UserID: "user-" + id, Username: "User",
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "127.0.0.1", UserAgent: "bench"}
		if n, err := s.CountUserConnections(ctx, "t", c.UserID, 200); err != nil || n != 0 {
			b.Fatal(n, err)
		}
		if err := s.PutConnection(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// chat's joinRoom as the store sees it: GetRoom, then the capped JoinRoom
// with the connection's expiry; with GetRoom's cache (the room read once)
// and without (RoomCacheCost -1: a round trip each). Reports this
// process's CPU per join (the client side of the round trips, what a
// switchboard node spends; PostgreSQL's is not in it).
func BenchmarkChatJoinRoomCached(b *testing.B)   { benchChatJoinRoom(b, "chatjoin-", 0) }
func BenchmarkChatJoinRoomUncached(b *testing.B) { benchChatJoinRoom(b, "chatjoinnc-", -1) }

func benchChatJoinRoom(b *testing.B, prefix string, cacheCost int) {
	s, err := Open(b.Context(), testutil.Postgres(b), Options{MaxConns: 8, RoomCacheCost: cacheCost})
	must(b, err)
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	now := time.Now()
	must(b, s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u", CreatedAt: now}))
	conns := &connSupply{s: s, b: b, prefix: prefix}
	b.ReportAllocs()
	conns.start()
	cpu := startCPU()
	for b.Loop() {
		id := conns.next()
		if _, err := s.GetRoom(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		m := store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "user-" + id, Username: "User", JoinedAt: now}
		if j, err := s.JoinRoom(ctx, m, 100); err != nil || !j.First {
			b.Fatal(j, err)
		}
	}
	cpu.report(b)
	conns.walPerOp()
}

// processCPU measures this process's CPU time (user and system) over a
// benchmark loop.
type processCPU struct{ from time.Duration }

func startCPU() processCPU { return processCPU{rusageCPU()} }

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds the CPU µs per op (connSupply's batches included: they are
// one statement per 1,000 ops).
func (c processCPU) report(b *testing.B) {
	b.ReportMetric(float64(rusageCPU()-c.from)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}
