package dynamo

import (
	"context"
	"errors"
	"fmt"
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
	if _, err := s.JoinRoom(ctx, testMember(c, "r1"), 0); err != nil {
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
		if _, err := s.JoinRoom(ctx, testMember(c, r), 0); err != nil {
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

// A DeleteConnection of a connection in more rooms than its transaction
// holds (the rest removed one by one after it), racing leaves of some of
// its rooms and joins of others: every membership is reported removed by
// exactly one call (a LeaveRoom that left, or DeleteConnection), with
// Last, each join either came first (DeleteConnection reports it) or was
// refused, and none is left.
func TestDeleteManyRoomsRacingLeavesAndJoins(t *testing.T) {
	t.Parallel()
	s, _, _ := testStore(t)
	ctx := t.Context()
	c := testConn("c1", "t", "u")
	must(t, s.PutConnection(ctx, c))
	const rooms, leaves, joins = 40, 12, 6
	for i := range rooms {
		if _, err := s.JoinRoom(ctx, testMember(c, fmt.Sprintf("r%02d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	left := make([]store.Leave, leaves)
	joined := make([]bool, joins)
	var dels []store.Membership
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Go(func() {
		<-start
		var err error
		_, dels, err = s.DeleteConnection(ctx, "c1")
		if err != nil {
			t.Errorf("DeleteConnection: %v", err)
		}
	})
	for i := range leaves {
		wg.Go(func() {
			<-start
			var err error
			// Rooms from the end: past the transaction's 32.
			if left[i], err = s.LeaveRoom(ctx, "t", fmt.Sprintf("r%02d", rooms-1-3*i), "c1"); err != nil {
				t.Errorf("LeaveRoom: %v", err)
			}
		})
	}
	for i := range joins {
		wg.Go(func() {
			<-start
			j, err := s.JoinRoom(ctx, testMember(c, fmt.Sprintf("n%02d", i)), 0)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("JoinRoom: %v", err)
			}
			joined[i] = err == nil && j.Joined
		})
	}
	close(start)
	wg.Wait()
	reported := map[string]int{}
	for _, m := range dels {
		reported[m.RoomID]++
		if !m.Last {
			t.Errorf("DeleteConnection returned %s without Last", m.RoomID)
		}
	}
	for i, l := range left {
		if l.Left {
			reported[fmt.Sprintf("r%02d", rooms-1-3*i)]++
		}
	}
	for i := range rooms {
		if r := fmt.Sprintf("r%02d", i); reported[r] != 1 {
			t.Errorf("membership of %s reported removed %d times, want 1", r, reported[r])
		}
	}
	for i, ok := range joined {
		if r := fmt.Sprintf("n%02d", i); ok != (reported[r] == 1) || reported[r] > 1 {
			t.Errorf("join of %s: joined %v, reported removed %d times", r, ok, reported[r])
		}
	}
	if rest, err := s.ConnectionRooms(ctx, "c1"); err != nil || len(rest) != 0 {
		t.Errorf("ConnectionRooms after the race = %d, %v; want none", len(rest), err)
	}
}

// DeleteNodeConnections of a connection in more rooms than one
// transaction holds (49 without the holds' writes): every membership is
// returned and stays held until ReleaseMembership, which reports each the
// user's last.
func TestNodeSweepBeyondTransactionLimit(t *testing.T) {
	t.Parallel()
	s, _, _ := testStore(t)
	ctx := t.Context()
	c := testConn("DdDdAAAAAAAAAAA=", "t", "u")
	must(t, s.PutConnection(ctx, c))
	if ok, err := s.TakeTypingSlot(ctx, c.ConnectionID, t0, time.Second); err != nil || !ok {
		t.Fatalf("TakeTypingSlot = %v, %v", ok, err) // a typing slot: three items before the memberships
	}
	const rooms = 50 // 48 fit beside the connection, its copy and the typing slot
	for i := range rooms {
		if _, err := s.JoinRoom(ctx, testMember(c, fmt.Sprintf("r%02d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := s.DeleteNodeConnections(ctx, "DdDd", 10)
	must(t, err)
	var n int
	for _, img := range imgs {
		if img.Type() != store.TypeMembership {
			continue
		}
		n++
		m, err := img.Membership()
		must(t, err)
		if last, err := s.ReleaseMembership(ctx, m); err != nil || !last {
			t.Errorf("ReleaseMembership(%s) = %v, %v; want the user's last", m.RoomID, last, err)
		}
	}
	if n != rooms {
		t.Errorf("DeleteNodeConnections returned %d memberships, want %d", n, rooms)
	}
	if rest, err := s.ConnectionRooms(ctx, c.ConnectionID); err != nil || len(rest) != 0 {
		t.Errorf("ConnectionRooms after = %d, %v; want none", len(rest), err)
	}
}
