// Package storetest is the conformance suite of store.Store: every
// implementation runs it (store/sqlite in its tests; the DynamoDB store
// against DynamoDB Local).
package storetest

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

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Start is the fake clock's time when each subtest begins: an arbitrary
// instant with milliseconds, in UTC.
var Start = time.Date(2024, time.February, 29, 12, 34, 56, 789_000_000, time.UTC)

// Clock is a fake clock safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// env is what a subtest works with.
type env struct {
	s   store.Store
	clk *Clock
	ctx context.Context
}

type subtest struct {
	name string
	fn   func(t *testing.T, e *env)
}

// Run runs the conformance suite against the implementation newStore makes,
// one subtest after another. Each subtest gets a fresh, empty store whose
// notion of "now" is the given clock; the suite closes it when the subtest
// ends (Close may therefore be called twice if newStore also arranges to
// close it).
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	run(t, newStore, false)
}

// RunParallel is Run with the subtests in parallel: newStore must make
// stores that share nothing.
func RunParallel(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	run(t, newStore, true)
}

func run(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store, parallel bool) {
	var all []subtest
	all = append(all, connectionTests...)
	all = append(all, typingTests...)
	all = append(all, roomTests...)
	all = append(all, membershipTests...)
	all = append(all, holdTests...)
	all = append(all, ghostTests...)
	all = append(all, joinExpiryTests...)
	all = append(all, roomLimitTests...)
	all = append(all, removalTests...)
	all = append(all, randomTests...)
	all = append(all, messageTests...)
	all = append(all, sweeperTests...)
	all = append(all, sendTests...)
	all = append(all, nodeSweeperTests...)
	for _, st := range all {
		t.Run(st.name, func(t *testing.T) {
			if parallel {
				t.Parallel() // each subtest has a store of its own
			}
			clk := NewClock(Start)
			s := newStore(t, clk.Now)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			st.fn(t, &env{s: s, clk: clk, ctx: t.Context()})
		})
	}
}

// Tenants and users of the fixtures.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
	tenantC = "tenant-c" // never written to
	alice   = "user-alice"
	bob     = "user-bob"
	carol   = "user-carol"
	mallory = "user-mallory"
)

// ttl is the fixtures' connection lifetime.
const ttl = 10 * time.Minute

// conn is a connection of user in tenant connected now, expiring after ttl.
func (e *env) conn(id, tenant, user string) store.Connection {
	now := e.clk.Now()
	return store.Connection{
		ConnectionID: id, TenantID: tenant, UserID: user, Username: "name of " + user,
		ConnectedAt: now, ExpiresAt: now.Add(ttl),
		SourceIP: "203.0.113.7", UserAgent: "storetest/1.0",
	}
}

// putConn stores and returns conn(id, tenant, user).
func (e *env) putConn(t *testing.T, id, tenant, user string) store.Connection {
	t.Helper()
	c := e.conn(id, tenant, user)
	must(t, e.s.PutConnection(e.ctx, c))
	return c
}

// join makes c join room (of c's tenant) now, until c's expiry.
func (e *env) join(t *testing.T, c store.Connection, room string) store.Membership {
	t.Helper()
	m := store.Membership{
		TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID,
		UserID: c.UserID, Username: c.Username, JoinedAt: e.clk.Now(), ExpiresAt: c.ExpiresAt,
	}
	j, err := e.s.JoinRoom(e.ctx, m, 0)
	must(t, err)
	if !j.Joined {
		t.Fatalf("JoinRoom(%+v) = %+v for a new membership", m, j)
	}
	return m
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// Comparisons: times by instant (a store may return them in any
// location), room members as sets, empty slices as nil.

func normTime(t time.Time) time.Time { return t.UTC() }

func normConn(c store.Connection) store.Connection {
	c.ConnectedAt, c.ExpiresAt = normTime(c.ConnectedAt), normTime(c.ExpiresAt)
	return c
}

func normMember(m store.Membership) store.Membership {
	m.JoinedAt, m.ExpiresAt = normTime(m.JoinedAt), normTime(m.ExpiresAt)
	return m
}

func normRoom(r store.Room) store.Room {
	r.CreatedAt = normTime(r.CreatedAt)
	if len(r.Members) == 0 {
		r.Members = nil
	} else {
		r.Members = slices.Sorted(slices.Values(r.Members))
	}
	return r
}

func normMessage(m store.Message) store.Message {
	m.CreatedAt, m.EditedAt = normTime(m.CreatedAt), normTime(m.EditedAt)
	return m
}

func normAll[T any](xs []T, norm func(T) T) []T {
	if len(xs) == 0 {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = norm(x)
	}
	return out
}

// same fails unless got and want are equal after norm.
func same[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// sameList fails unless got and want are equal, in order, after norm.
func sameList[T any](t *testing.T, what string, got, want []T, norm func(T) T) {
	t.Helper()
	g, w := normAll(got, norm), normAll(want, norm)
	if !reflect.DeepEqual(g, w) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: got %d items, want %d", what, len(g), len(w))
		for i := range max(len(g), len(w)) {
			var gi, wi any = "-", "-"
			if i < len(g) {
				gi = g[i]
			}
			if i < len(w) {
				wi = w[i]
			}
			mark := " "
			if !reflect.DeepEqual(gi, wi) {
				mark = "!"
			}
			fmt.Fprintf(&b, "\n%s[%d] got  %+v\n%s[%d] want %+v", mark, i, gi, mark, i, wi)
		}
		t.Error(b.String())
	}
}

// sameSet is sameList ignoring order (key orders both lists).
func sameSet[T any](t *testing.T, what string, got, want []T, norm func(T) T, key func(T) string) {
	t.Helper()
	by := func(a, b T) int { return strings.Compare(key(a), key(b)) }
	g, w := slices.Clone(got), slices.Clone(want)
	slices.SortFunc(g, by)
	slices.SortFunc(w, by)
	sameList(t, what, g, w, norm)
}

func connKey(c store.Connection) string { return c.ConnectionID }

func memberKey(m store.Membership) string {
	return m.TenantID + "\x00" + m.RoomID + "\x00" + m.ConnectionID
}

// concurrently runs fn(i) for i in [0, n) in n goroutines released at once.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
