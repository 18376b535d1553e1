package dynamo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// recorder records the DynamoDB operations a client issues, once per
// call (retries are not repeated), with what tells access patterns apart:
// the index a Query reads, and whether a read is consistent.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) client(endpoint string) *dynamodb.Client {
	return LocalClient(endpoint, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("switchboard/record",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error) {
					r.add(describe(awsmiddleware.GetOperationName(ctx), in.Parameters))
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
}

func describe(op string, params any) string {
	consistent := func(c *bool) string {
		if c != nil && *c {
			return " consistent"
		}
		return ""
	}
	switch p := params.(type) {
	case *dynamodb.QueryInput:
		if p.IndexName != nil {
			return "Query " + *p.IndexName + consistent(p.ConsistentRead)
		}
		return "Query table" + consistent(p.ConsistentRead)
	case *dynamodb.GetItemInput:
		return "GetItem" + consistent(p.ConsistentRead)
	case *dynamodb.TransactWriteItemsInput:
		return fmt.Sprintf("TransactWriteItems(%d)", len(p.TransactItems))
	}
	return op
}

func (r *recorder) add(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// TestOperations lists the DynamoDB operations of each Store method and
// checks that none on a request path scans: every one is a GetItem, a
// Query, or a (conditional or transactional) write.
func TestOperations(t *testing.T) {
	ep := endpoint(t)
	var rec recorder
	plain := LocalClient(ep)
	table := newTable(t, plain)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := New(rec.client(ep), table, Options{Now: func() time.Time { return now }})
	ctx := t.Context()

	conn := func(id, user string) store.Connection {
		return store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user,
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	member := func(c store.Connection, room string) store.Membership {
		return store.Membership{TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID,
			UserID: c.UserID, Username: c.Username, JoinedAt: now, ExpiresAt: c.ExpiresAt}
	}
	c1, c2 := conn("c1", "alice"), conn("c2", "bob")
	msgs := make([]store.Message, 4)
	for i := range msgs {
		msgs[i] = store.Message{TenantID: "t", RoomID: "r1", MessageID: store.NewID(now.Add(time.Duration(i) * time.Millisecond)),
			UserID: "alice", Username: "alice", Content: "hi", MessageType: store.MessageText, CreatedAt: now}
	}
	var cursor string
	ignore := func(_ any, err error) error { return err }
	ignore2 := func(_, _ any, err error) error { return err }

	const (
		tx      = "TransactWriteItems"
		getC    = "GetItem consistent"
		queryC  = "Query table consistent"
		queryG1 = "Query GSI1"
		queryG2 = "Query GSI2"
		update  = "UpdateItem"
	)
	steps := []struct {
		method string
		call   func() error
		want   []string
	}{
		{"PutConnection", func() error { return s.PutConnection(ctx, c1) }, []string{tx + "(2)"}},
		// The count, then the write.
		{"AddConnection", func() error { return ignore(s.AddConnection(ctx, c2, 200)) }, []string{queryC, tx + "(2)"}},
		{"AddConnection", func() error {
			_, err := s.AddConnection(ctx, conn("c3", "alice"), 1)
			if !errors.Is(err, store.ErrConnectionLimit) {
				return fmt.Errorf("want ErrConnectionLimit, got %v", err)
			}
			return nil
		}, []string{queryC}},
		{"GetConnection", func() error { return ignore(s.GetConnection(ctx, "c1")) }, []string{getC}},
		{"UserConnections", func() error { return ignore(s.UserConnections(ctx, "t", "alice")) }, []string{queryC}},
		// One consistent Query of at most 200 items, however many the user has.
		{"CountUserConnections", func() error { return ignore(s.CountUserConnections(ctx, "t", "alice", 200)) }, []string{queryC}},
		{"TenantConnections", func() error { return ignore(s.TenantConnections(ctx, "t")) }, []string{queryG1}},
		{"TakeTypingSlot", func() error { return ignore(s.TakeTypingSlot(ctx, "c1", now, time.Second)) }, []string{update}},
		{"CreateRoom", func() error {
			return s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r1", Name: "R1", CreatedBy: "alice", CreatedAt: now})
		}, []string{tx + "(1)"}},
		{"CreateRoom", func() error {
			return s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r2", Name: "R2", CreatedBy: "alice", CreatedAt: now,
				IsPrivate: true, Members: []string{"alice", "bob"}})
		}, []string{tx + "(3)"}},
		{"GetRoom", func() error { return ignore(s.GetRoom(ctx, "t", "r1")) }, []string{getC}},
		{"ListRooms", func() error { return ignore2(s.ListRooms(ctx, "t", "alice", store.RoomsAll, store.Page{})) },
			[]string{queryG1, queryG2}},
		{"ListRooms", func() error { return ignore2(s.ListRooms(ctx, "t", "alice", store.RoomsPublic, store.Page{})) },
			[]string{queryG1}},
		{"ListRooms", func() error { return ignore2(s.ListRooms(ctx, "t", "alice", store.RoomsPrivate, store.Page{})) },
			[]string{queryG2}},
		// The membership, its copy, the user's hold of the room and the
		// connection's write (it is there and live; its joins counted).
		// With no ExpiresAt given (chat's joins), the same when the store
		// has a guess of the connection's expiry: TestJoinGuessesExpiry.
		{"JoinRoom", func() error { return ignore(s.JoinRoom(ctx, member(c1, "r1"), 0)) }, []string{tx + "(4)"}},
		{"JoinRoom", func() error { return ignore(s.JoinRoom(ctx, member(c1, "r1"), 0)) }, []string{tx + "(4)"}},
		{"JoinRoom", func() error { return ignore(s.JoinRoom(ctx, member(c1, "r2"), 0)) }, []string{tx + "(4)"}},
		// Refused: the connection is not there.
		{"JoinRoom", func() error {
			_, err := s.JoinRoom(ctx, member(conn("c9", "carol"), "r1"), 0)
			if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("want ErrNotFound, got %v", err)
			}
			return nil
		}, []string{tx + "(4)"}},
		{"RoomMembers", func() error { return ignore(s.RoomMembers(ctx, "t", "r1")) }, []string{queryC}},
		// One consistent Query of at most 200 items, however large the room.
		{"CountRoomMembers", func() error { return ignore(s.CountRoomMembers(ctx, "t", "r1", 200)) }, []string{queryC}},
		// Of a membership never held: the conditional delete (in a
		// transaction with the check that the connection did not join the
		// room again) fails, and the item it returns says there is nothing
		// to release.
		{"ReleaseMembership", func() error { return ignore(s.ReleaseMembership(ctx, member(c2, "r9"))) }, []string{tx + "(2)"}},
		{"ConnectionRooms", func() error { return ignore(s.ConnectionRooms(ctx, "c1")) }, []string{queryC}},
		// Connection, its copy, two memberships and their copies.
		{"TouchConnection", func() error { return s.TouchConnection(ctx, "c1", now.Add(2*time.Hour)) },
			[]string{queryC, tx + "(6)"}},
		// Whose the membership is, then the membership, its copy, the hold
		// and the room out of the connection's set (JoinRoom's cap).
		{"LeaveRoom", func() error { return ignore(s.LeaveRoom(ctx, "t", "r2", "c1")) }, []string{getC, tx + "(4)"}},
		// The membership checked and the message put in one transaction,
		// then the members.
		{"SendMessage", func() error { return ignore(s.SendMessage(ctx, "c1", msgs[3])) }, []string{tx + "(2)", queryC}},
		{"SendMessage", func() error {
			_, err := s.SendMessage(ctx, "c2", msgs[3])
			if !errors.Is(err, store.ErrNotMember) {
				return fmt.Errorf("want ErrNotMember, got %v", err)
			}
			return nil
		}, []string{tx + "(2)"}},
		{"PutMessage", func() error { return s.PutMessage(ctx, msgs[0]) }, []string{"PutItem"}},
		{"PutMessage", func() error { return s.PutMessage(ctx, msgs[1]) }, []string{"PutItem"}},
		{"PutMessage", func() error { return s.PutMessage(ctx, msgs[2]) }, []string{"PutItem"}},
		{"GetMessage", func() error { return ignore(s.GetMessage(ctx, "t", msgs[0].MessageID)) }, []string{getC}},
		{"ListMessages", func() error {
			_, next, err := s.ListMessages(ctx, "t", "r1", store.Page{Limit: 2})
			cursor = next
			return err
		}, []string{queryG1}},
		{"ListMessages", func() error {
			return ignore2(s.ListMessages(ctx, "t", "r1", store.Page{Limit: 2, Cursor: cursor}))
		}, []string{queryG1}},
		{"EditMessage", func() error { return ignore(s.EditMessage(ctx, "t", msgs[0].MessageID, "alice", "edited", now)) },
			[]string{update}},
		// Refused: one UpdateItem tells not-author from not-found.
		{"EditMessage", func() error {
			_, err := s.EditMessage(ctx, "t", msgs[0].MessageID, "mallory", "x", now)
			if !errors.Is(err, store.ErrNotAuthor) {
				return fmt.Errorf("want ErrNotAuthor, got %v", err)
			}
			return nil
		}, []string{update}},
		{"DeleteMessage", func() error { return ignore(s.DeleteMessage(ctx, "t", msgs[0].MessageID, "alice", now)) },
			[]string{update}},
		{"DeleteMessage", func() error {
			_, err := s.DeleteMessage(ctx, "t", msgs[0].MessageID, "alice", now)
			if !errors.Is(err, store.ErrDeleted) {
				return fmt.Errorf("want ErrDeleted, got %v", err)
			}
			return nil
		}, []string{update}},
		// Connection, its copy, its typing slot, one membership, its copy
		// and the hold; then the memberships left (none: no join raced it).
		{"DeleteConnection", func() error { return ignore2(s.DeleteConnection(ctx, "c1")) }, []string{queryC, tx + "(6)", queryC}},
		{"DeleteConnection", func() error {
			_, _, err := s.DeleteConnection(ctx, "c1")
			if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("want ErrNotFound, got %v", err)
			}
			return nil
		}, []string{queryC}},
		{"Close", s.Close, nil},
	}

	covered := map[string]bool{}
	for i, st := range steps {
		rec.take()
		if err := st.call(); err != nil {
			t.Fatalf("step %d, %s: %v", i, st.method, err)
		}
		got := rec.take()
		covered[st.method] = true
		for _, op := range got {
			if strings.HasPrefix(op, "Scan") {
				t.Errorf("step %d: %s issues a Scan on a request path: %q", i, st.method, got)
			}
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("step %d: %s issued %q, want %q", i, st.method, got, st.want)
		}
		if testing.Verbose() {
			t.Logf("%-18s %s", st.method, strings.Join(got, ", "))
		}
	}
	// Every method of store.Store is listed above.
	st := reflect.TypeFor[store.Store]()
	for i := range st.NumMethod() {
		if m := st.Method(i).Name; !covered[m] {
			t.Errorf("store.Store method %s is not in TestOperations", m)
		}
	}

	// The sweeper alone scans (it is not a request path: on AWS, TTL
	// deletes). c2 and its copy expire.
	now = now.Add(3 * time.Hour)
	imgs, err := s.DeleteExpired(ctx, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Type() != store.TypeConnection {
		t.Errorf("DeleteExpired: %v", imgs)
	}
	got := rec.take()
	if !slices.Equal(got, []string{"Scan", "DeleteItem", "DeleteItem"}) {
		t.Errorf("DeleteExpired issued %q", got)
	}
	if testing.Verbose() {
		t.Logf("%-18s %s", "DeleteExpired", strings.Join(got, ", "))
	}
}
