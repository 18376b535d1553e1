package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunParallel(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := Open(t.TempDir(), Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func openTest(t testing.TB, dir string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Rooms and messages survive a reopen; connections, memberships, holds and
// typing slots do not: they belonged to the previous process, whose
// WebSockets died with it, and were never written to the database.
func TestSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nested", "data") // Open creates it
	now := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	clock := func() time.Time { return now }
	s := openTest(t, dir, clock)

	c := store.Connection{ConnectionID: "c1", TenantID: "t", UserID: "u", Username: "U",
		ConnectedAt: now, ExpiresAt: now.Add(time.Hour), SourceIP: "::1", UserAgent: "ua"}
	m := store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "c1", UserID: "u", Username: "U",
		JoinedAt: now, ExpiresAt: now.Add(time.Hour)}
	r := store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "u", CreatedAt: now, IsPrivate: true, Members: []string{"u"}}
	msg := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", Username: "U",
		Content: "persisted", MessageType: store.MessageText, CreatedAt: now}
	for _, err := range []error{
		s.PutConnection(ctx, c), s.CreateRoom(ctx, r), s.PutMessage(ctx, msg),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.JoinRoom(ctx, m, 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.TakeTypingSlot(ctx, "c1", now, time.Minute); err != nil || !ok {
		t.Fatalf("TakeTypingSlot = %v, %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openTest(t, dir, clock)
	checkNoConnections(t, s, now, "c1", "t", "u", "r")
	rooms, _, err := s.ListRooms(ctx, "t", "u", store.RoomsPrivate, store.Page{Limit: 10})
	if err != nil || len(rooms) != 1 || rooms[0].Name != "R" {
		t.Errorf("rooms after reopen: %+v, %v", rooms, err)
	}
	gotMsg, err := s.GetMessage(ctx, "t", msg.MessageID)
	if err != nil || gotMsg != msg {
		t.Errorf("message after reopen: %+v, %v", gotMsg, err)
	}
	// The connection id is free again; the user's first join is first.
	if err := s.PutConnection(ctx, c); err != nil {
		t.Errorf("PutConnection of the previous process's id after reopen: %v", err)
	}
	if j, err := s.JoinRoom(ctx, m, 0); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom after reopen = %+v, %v; want joined, first", j, err)
	}
	if ok, err := s.TakeTypingSlot(ctx, "c1", now.Add(time.Second), time.Minute); err != nil || !ok {
		t.Errorf("typing slot after reopen: %v, %v (want taken: the old slot died with its process)", ok, err)
	}
}

// checkNoConnections checks that s holds no connection, membership or
// typing slot: nobody online, nobody in room r, nothing for the sweeper.
func checkNoConnections(t *testing.T, s *Store, now time.Time, conn, tenant, user, room string) {
	t.Helper()
	ctx := t.Context()
	if gotC, err := s.GetConnection(ctx, conn); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("connection of the previous process after reopen: %+v, %v; want ErrNotFound", gotC, err)
	}
	if cs, err := s.TenantConnections(ctx, tenant); err != nil || len(cs) != 0 {
		t.Errorf("connections of the tenant after reopen: %+v, %v; want none (nobody online)", cs, err)
	}
	if cs, err := s.UserConnections(ctx, tenant, user); err != nil || len(cs) != 0 {
		t.Errorf("connections of the user after reopen: %+v, %v; want none", cs, err)
	}
	if members, err := s.RoomMembers(ctx, tenant, room); err != nil || members.Len() != 0 {
		t.Errorf("members after reopen: %+v, %v; want none", members.Slice(), err)
	}
	if rs, err := s.ConnectionRooms(ctx, conn); err != nil || len(rs) != 0 {
		t.Errorf("rooms of the connection after reopen: %+v, %v; want none", rs, err)
	}
	if n := s.idx.typingSlots(); n != 0 {
		t.Errorf("%d typing slots after reopen, want none", n)
	}
	if imgs, err := s.DeleteExpired(ctx, now.Add(24*time.Hour), 0); err != nil || len(imgs) != 0 {
		t.Errorf("DeleteExpired after reopen = %d images, %v; want none", len(imgs), err)
	}
}

// A data directory written by schema version 3 (connections, memberships,
// holds and typing slots in tables, rows of a process killed while its
// users were connected) opens: those tables are dropped, rooms and
// messages are kept, and nobody is online or in a room.
func TestOpensSchema3Directory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for v, mig := range migrations[:3] {
		if _, err := db.Exec(mig); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
	}
	at, exp := now.UnixMilli(), now.Add(time.Hour).UnixMilli()
	msgID := store.NewID(now)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`PRAGMA user_version = 3`, nil},
		{`INSERT INTO connections VALUES ('c1', 't', 'u', 'U', ?1, ?2, '::1', 'ua')`, []any{at, exp}},
		{`INSERT INTO memberships VALUES ('t', 'r', 'c1', 'u', 'U', ?1, ?2)`, []any{at, exp}}, // and its hold, by the trigger
		{`INSERT INTO typing_slots VALUES ('c1', ?1, ?2)`, []any{at, exp}},
		{`INSERT INTO rooms VALUES ('t', 'r', 'R', '', 'u', ?1, 0, '[]')`, []any{at}},
		{`INSERT INTO messages VALUES ('t', ?1, 'r', 'u', 'U', 'kept', 'text', ?2, NULL, 0, '')`, []any{msgID, at}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, dir, func() time.Time { return now })
	checkNoConnections(t, s, now, "c1", "t", "u", "r")
	var tables []string
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type IN ('table', 'trigger') ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		must(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	must(t, rows.Err())
	rows.Close()
	if want := []string{"messages", "room_access", "rooms"}; !slices.Equal(tables, want) {
		t.Errorf("tables and triggers after the migration: %v, want %v", tables, want)
	}
	if room, err := s.GetRoom(ctx, "t", "r"); err != nil || room.Name != "R" {
		t.Errorf("room after the migration: %+v, %v", room, err)
	}
	if got, err := s.GetMessage(ctx, "t", msgID); err != nil || got.Content != "kept" {
		t.Errorf("message after the migration: %+v, %v", got, err)
	}
	must(t, s.PutConnection(ctx, store.Connection{ConnectionID: "c2", TenantID: "t", UserID: "u", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}))
	if j, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "c2", UserID: "u",
		JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom after the migration = %+v, %v; want joined, first (the old hold is gone)", j, err)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.r, "journal_mode", "wal"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.w, "busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
		{s.r, "busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
		{s.r, "query_only", "1"},
		{s.w, "query_only", "0"},
		{s.w, "user_version", fmt.Sprint(SchemaVersion)},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM rooms`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	if _, err := s.w.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(dir, Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database with a newer schema: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(file, Options{}); err == nil { // a file, not a directory
		s.Close()
		t.Error("Open of a path under a file succeeded")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("not a database, but long enough to have a header....................................................."), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, Options{}); err == nil {
		s.Close()
		t.Error("Open of a file that is not a database succeeded")
	}
}

// Reads go through their own pool: a write transaction in progress does not
// hold them up, and they see what was committed before it began.
// Neither the reads nor the writes of connections and memberships wait
// for a write transaction of SQLite (they never reach it), nor do reads of
// messages; a write of a message waits, and gives up with its context.
func TestReadsDoNotWaitForWrites(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	c := store.Connection{ConnectionID: "c1", TenantID: "t", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	tx, err := s.w.BeginTx(ctx, nil) // holds the only writer connection and the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM messages`); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.GetConnection(rctx, "c1"); err != nil {
		t.Errorf("read during a write transaction: %v", err)
	}
	if cs, err := s.UserConnections(rctx, "t", "u"); err != nil || len(cs) != 1 {
		t.Errorf("UserConnections during a write transaction: %v, %v", cs, err)
	}
	if _, _, err := s.ListMessages(rctx, "t", "r", store.Page{}); err != nil {
		t.Errorf("ListMessages during a write transaction: %v", err)
	}
	if err := s.PutConnection(rctx, store.Connection{ConnectionID: "c2", TenantID: "t", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("PutConnection during a write transaction: %v", err)
	}
	if _, err := s.JoinRoom(rctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "c2", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}, 0); err != nil {
		t.Errorf("JoinRoom during a write transaction: %v", err)
	}
	// A write of a message waits for the transaction (and gives up with
	// its context).
	wctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := s.PutMessage(wctx, store.Message{TenantID: "t", RoomID: "r", MessageID: "m", UserID: "u"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PutMessage during a write transaction: %v, want deadline exceeded", err)
	}
}

func TestErrorsHaveContext(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	_, err := s.GetConnection(t.Context(), "conn-42")
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "conn-42") {
		t.Errorf("GetConnection error %q", err)
	}
	_, _, err = s.ListMessages(t.Context(), "t", "r", store.Page{Cursor: "x"})
	if !errors.Is(err, store.ErrCursor) || !strings.Contains(err.Error(), "list messages") {
		t.Errorf("ListMessages error %q", err)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	now := time.Now()
	for i := range MaxLimit + 5 {
		m := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(now), UserID: "u", CreatedAt: now}
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(i, err)
		}
	}
	for _, tc := range []struct{ limit, want int }{{0, DefaultLimit}, {-1, DefaultLimit}, {MaxLimit + 1, MaxLimit}, {7, 7}} {
		msgs, next, err := s.ListMessages(ctx, "t", "r", store.Page{Limit: tc.limit})
		if err != nil || len(msgs) != tc.want || next == "" {
			t.Errorf("ListMessages(limit %d): %d messages, next %q, %v; want %d", tc.limit, len(msgs), next, err, tc.want)
		}
	}
}

// Every request-path query is a SEARCH on an index: no full scans, and no
// sorting where an index gives the order.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	scan := regexp.MustCompile(`\bSCAN (\w+)`)
	for _, tc := range []struct {
		name, query string
		args        []any
		uses        []string // indexes the plan must use
	}{
		{"ListMessages first page", qListMessagesFirst, []any{"t", "r", 10}, []string{"messages_by_room"}},
		{"ListMessages", qListMessages, []any{"t", "r", "m", 10}, []string{"messages_by_room"}},
		{"GetMessage", qGetMessage, []any{"t", "m"}, nil},
		{"EditMessage", qEditMessage, []any{"t", "m", "u", "x", 0}, nil},
		{"ListRooms public", qPublicRooms, []any{"t", 0, "", 10}, []string{"rooms_by_visibility"}},
		{"ListRooms private", qPrivateRooms, []any{"t", 0, "", 10, "u"}, []string{"SEARCH a USING PRIMARY KEY"}},
		{"ListRooms all", qAllRooms, []any{"t", 0, "", 10, "u"}, []string{"rooms_by_visibility", "SEARCH a USING PRIMARY KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.w.Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			for _, line := range plan {
				if m := scan.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "subquery") {
					t.Errorf("full scan of %s:\n%s", m[1], text)
				}
				// Sorting the merged pages of ListRooms all is expected
				// (at most twice the limit); elsewhere the index orders.
				if strings.Contains(line, "TEMP B-TREE") && tc.name != "ListRooms all" {
					t.Errorf("sorts:\n%s", text)
				}
			}
			for _, idx := range tc.uses {
				if !strings.Contains(text, idx) {
					t.Errorf("does not use %s:\n%s", idx, text)
				}
			}
			if testing.Verbose() {
				t.Logf("\n%s", text)
			}
		})
	}
}

// Typing slots are swept once they no longer limit anything, and only then.
func TestSweepTypingSlots(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const interval = 250 * time.Millisecond
	count := s.idx.typingSlots
	if ok, err := s.TakeTypingSlot(ctx, "c1", t0, interval); err != nil || !ok {
		t.Fatalf("TakeTypingSlot = %v, %v", ok, err)
	}
	if imgs, err := s.DeleteExpired(ctx, t0.Add(interval-time.Millisecond), 10); err != nil || len(imgs) != 0 {
		t.Fatalf("DeleteExpired = %v, %v", imgs, err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d typing slots after a sweep before expiry", n)
	}
	if ok, _ := s.TakeTypingSlot(ctx, "c1", t0.Add(interval-time.Millisecond), interval); ok {
		t.Error("slot taken within the interval after a sweep")
	}
	if imgs, err := s.DeleteExpired(ctx, t0.Add(interval), 10); err != nil || len(imgs) != 0 {
		t.Fatalf("DeleteExpired = %v, %v", imgs, err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d typing slots after a sweep past expiry", n)
	}
	if ok, _ := s.TakeTypingSlot(ctx, "c1", t0.Add(interval), interval); !ok {
		t.Error("slot refused after the interval")
	}
}

// The sweep returns memberships before connections, across batches too.
func TestSweepOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), func() time.Time { return t0.Add(-time.Minute) }) // live when they join
	ctx := t.Context()
	for i := range 3 {
		c := store.Connection{ConnectionID: fmt.Sprint("c", i), TenantID: "t", UserID: "u", ExpiresAt: t0}
		if err := s.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"r1", "r2"} {
			m := store.Membership{TenantID: "t", RoomID: r, ConnectionID: c.ConnectionID, UserID: "u", ExpiresAt: t0}
			if _, err := s.JoinRoom(ctx, m, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	var types []string
	for {
		imgs, err := s.DeleteExpired(ctx, t0.Add(time.Second), 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) == 0 {
			break
		}
		for _, img := range imgs {
			types = append(types, img.Type())
		}
	}
	m, c := store.TypeMembership, store.TypeConnection
	if want := []string{m, m, m, m, m, m, c, c, c}; !slices.Equal(types, want) {
		t.Errorf("sweep order %v, want %v", types, want)
	}
}

// After Close, methods fail with an error (the prepared statements are
// closed with the pools), and do not panic.
func TestUseAfterClose(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, "c"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConnection after Close: %v", err)
	}
	if err := s.PutMessage(ctx, store.Message{TenantID: "t", MessageID: "m"}); err == nil {
		t.Error("PutMessage after Close succeeded")
	}
	if _, err := s.DeleteExpired(ctx, time.Now(), 10); err == nil {
		t.Error("DeleteExpired after Close succeeded")
	}
	if _, err := s.RoomMembers(ctx, "t", "r"); err == nil {
		t.Error("RoomMembers after Close succeeded")
	}
}
