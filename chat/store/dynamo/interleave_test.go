package dynamo

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Interleavings the conformance suite's races hit only sometimes, made
// certain: a call of another instance runs between a method's read and
// its write.

// interposer runs fn (once) before the first request of operation op that
// its client sends after arm.
type interposer struct {
	mu sync.Mutex
	op string
	fn func()
}

func (ip *interposer) arm(op string, fn func()) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	ip.op, ip.fn = op, fn
}

func (ip *interposer) client(endpoint string) *dynamodb.Client {
	return LocalClient(endpoint, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("switchboard/interpose",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error) {
					ip.mu.Lock()
					var fn func()
					if ip.fn != nil && awsmiddleware.GetOperationName(ctx) == ip.op {
						fn, ip.fn = ip.fn, nil
					}
					ip.mu.Unlock()
					if fn != nil {
						fn()
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
}

// interposed returns a store whose requests ip can interpose on, and
// another (a second instance) on the same table.
func interposed(t *testing.T) (*Store, *Store, *interposer) {
	t.Helper()
	ep := endpoint(t)
	ip := &interposer{}
	plain := LocalClient(ep)
	table := newTable(t, plain)
	opts := Options{Now: func() time.Time { return t0 }}
	return New(ip.client(ep), table, opts), New(plain, table, opts), ip
}

// A LeaveRoom whose membership DeleteConnection removed between its read
// and its write: not left (DeleteConnection reports it), and no error.
func TestLeaveAfterDeleteConnectionRemovedIt(t *testing.T) {
	t.Parallel()
	s, other, ip := interposed(t)
	ctx := t.Context()
	c := testConn("c1", "t", "alice")
	must(t, s.PutConnection(ctx, c))
	if _, err := s.JoinRoom(ctx, testMember(c, "r1")); err != nil {
		t.Fatal(err)
	}
	var dels []store.Membership
	ip.arm("TransactWriteItems", func() {
		var err error
		_, dels, err = other.DeleteConnection(ctx, "c1")
		must(t, err)
	})
	l, err := s.LeaveRoom(ctx, "t", "r1", "c1")
	if err != nil || l != (store.Leave{}) {
		t.Errorf("LeaveRoom after DeleteConnection removed the membership = %+v, %v; want not left, no error", l, err)
	}
	if len(dels) != 1 || !dels[0].Last {
		t.Errorf("DeleteConnection = %+v, want the membership, the user's last", dels)
	}
}

// A DeleteConnection one of whose memberships LeaveRoom removed between
// its read and its transaction: it does not report that one (LeaveRoom
// did, with Last), and reports the others with Last.
func TestDeleteConnectionAfterLeaveRemovedOne(t *testing.T) {
	t.Parallel()
	s, other, ip := interposed(t)
	ctx := t.Context()
	c := testConn("c1", "t", "alice")
	must(t, s.PutConnection(ctx, c))
	for _, r := range []string{"r1", "r2", "r3"} {
		if _, err := s.JoinRoom(ctx, testMember(c, r)); err != nil {
			t.Fatal(err)
		}
	}
	var l store.Leave
	ip.arm("TransactWriteItems", func() {
		var err error
		l, err = other.LeaveRoom(ctx, "t", "r2", "c1")
		must(t, err)
	})
	_, dels, err := s.DeleteConnection(ctx, "c1")
	must(t, err)
	if l != (store.Leave{Left: true, Last: true}) {
		t.Errorf("LeaveRoom(r2) = %+v, want left, the last", l)
	}
	var rooms []string
	for _, m := range dels {
		rooms = append(rooms, m.RoomID)
		if !m.Last {
			t.Errorf("DeleteConnection returned %s without Last", m.RoomID)
		}
	}
	if !slices.Equal(rooms, []string{"r1", "r3"}) {
		t.Errorf("DeleteConnection returned the memberships of %q, want r1 and r3 (r2 was left before its transaction)", rooms)
	}
}
