package dynamo

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// TestJoinGuessesExpiry: a join that takes the membership's expiry from
// its connection (a zero ExpiresAt) is one request when the store knows
// the connection's expiry (it stored or touched the connection), two when
// it does not (a consistent GetItem first) or its guess is stale (another
// instance's heartbeat moved it: the cancelled transaction returns the
// connection, and the second has its expiry); and the membership always
// ends with the connection's expiry.
func TestJoinGuessesExpiry(t *testing.T) {
	t.Parallel()
	ep := endpoint(t)
	var rec recorder
	table := newTable(t, LocalClient(ep))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := New(rec.client(ep), table, Options{Now: clock}) // the connection's node
	b := New(rec.client(ep), table, Options{Now: clock}) // another instance
	ctx := t.Context()
	c := store.Connection{ConnectionID: "c1", TenantID: "t", UserID: "alice", Username: "alice",
		ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	join := func(s *Store, room string) (store.Join, error) {
		return s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: room, ConnectionID: "c1",
			UserID: "alice", Username: "alice", JoinedAt: now}, 0)
	}
	if err := a.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	const (
		tx   = "TransactWriteItems(4)"
		getC = "GetItem consistent"
	)
	renewed := now.Add(2 * time.Hour)
	for _, step := range []struct {
		what string
		call func() error
		want []string
	}{
		{"join on the connection's node", func() error { _, err := join(a, "r1"); return err }, []string{tx}},
		{"join on an instance that never saw the connection", func() error { _, err := join(b, "r2"); return err },
			[]string{getC, tx}},
		{"heartbeat on the other instance", func() error { return b.TouchConnection(ctx, "c1", renewed) },
			[]string{"Query table consistent", "TransactWriteItems(6)"}},
		{"join with a stale guess", func() error { _, err := join(a, "r3"); return err }, []string{tx, tx}},
		{"join with the corrected guess", func() error { _, err := join(a, "r4"); return err }, []string{tx}},
	} {
		rec.take()
		if err := step.call(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if got := rec.take(); !slices.Equal(got, step.want) {
			t.Errorf("%s issued %q, want %q", step.what, got, step.want)
		}
	}
	rooms, err := a.ConnectionRooms(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 4 {
		t.Fatalf("ConnectionRooms = %+v, want 4 memberships", rooms)
	}
	for _, m := range rooms {
		if !m.ExpiresAt.Equal(renewed) {
			t.Errorf("membership of %s expires at %v, want the connection's %v", m.RoomID, m.ExpiresAt, renewed)
		}
	}

	// Deleted on another instance: the guess is refused with the
	// connection, in the one transaction.
	if _, _, err := b.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if _, err := join(a, "r5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("join of a connection deleted elsewhere: %v, want ErrNotFound", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{tx}) {
		t.Errorf("join of a connection deleted elsewhere issued %q, want %q", got, []string{tx})
	}
	if _, err := join(a, "r5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("join again: %v, want ErrNotFound", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{getC}) {
		t.Errorf("join again (guess forgotten) issued %q, want %q", got, []string{getC})
	}
}

// TestLeaveOfConnectionGone: a leave takes the room out of its
// connection's set (JoinRoom's cap) in its transaction; with the
// connection item gone (deleted, its memberships not yet), it leaves all
// the same, without that write.
func TestLeaveOfConnectionGone(t *testing.T) {
	t.Parallel()
	ep := endpoint(t)
	var rec recorder
	plain := LocalClient(ep)
	table := newTable(t, plain)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := New(rec.client(ep), table, Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	c := store.Connection{ConnectionID: "c1", TenantID: "t", UserID: "alice", Username: "alice",
		ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r1", ConnectionID: "c1",
		UserID: "alice", Username: "alice", JoinedAt: now}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(connPK("c1"), skMeta)}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	l, err := s.LeaveRoom(ctx, "t", "r1", "c1")
	if err != nil || !l.Left || !l.Last {
		t.Errorf("LeaveRoom with the connection item gone = %+v, %v; want left, last", l, err)
	}
	want := []string{"GetItem consistent", "TransactWriteItems(4)", "TransactWriteItems(3)"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("LeaveRoom with the connection item gone issued %q, want %q", got, want)
	}
	rooms, err := s.ConnectionRooms(ctx, "c1")
	if err != nil || len(rooms) != 0 {
		t.Errorf("ConnectionRooms after the leave = %+v, %v", rooms, err)
	}
}
