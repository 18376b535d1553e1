package sqlite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/storetest"
)

// model is what the index must answer, kept by the test beside the
// writes it makes: every connection and membership, expired or not, with
// times as the store keeps them (whole milliseconds, UTC).
type model struct {
	conns   map[string]store.Connection
	members map[memberKey]store.Membership
}

func newModel() *model {
	return &model{conns: map[string]store.Connection{}, members: map[memberKey]store.Membership{}}
}

// live returns the connections and memberships live at now, in the order
// the reads return them: connections by id, memberships by tenant, room
// and connection.
func (md *model) live(now int64) ([]store.Connection, []store.Membership) {
	var cs []store.Connection
	for _, c := range md.conns {
		if ms(c.ExpiresAt) > now {
			cs = append(cs, c)
		}
	}
	var mbs []store.Membership
	for _, m := range md.members {
		if ms(m.ExpiresAt) > now {
			mbs = append(mbs, m)
		}
	}
	slices.SortFunc(cs, func(a, b store.Connection) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	slices.SortFunc(mbs, func(a, b store.Membership) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.RoomID, b.RoomID),
			strings.Compare(a.ConnectionID, b.ConnectionID))
	})
	return cs, mbs
}

// where returns the elements of xs for which keep holds, in order (nil if
// none).
func where[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// checkIndex compares every read the index answers with the live
// connections and memberships given (in the order model.live returns).
func checkIndex(t *testing.T, s *Store, step string, tenants, users, rooms, conns []string,
	liveConns []store.Connection, liveMembers []store.Membership) {
	t.Helper()
	ctx := t.Context()
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s: %s:\n got %+v\nwant %+v", step, what, got, want)
		}
	}
	for _, tn := range tenants {
		got, err := s.TenantConnections(ctx, tn)
		must(t, err)
		wantTenant := where(liveConns, func(c store.Connection) bool { return c.TenantID == tn })
		eq("TenantConnections "+tn, got, wantTenant)
		for _, max := range []int{0, 1, 2, len(wantTenant) + 1} {
			n, err := s.CountTenantConnections(ctx, tn, max)
			must(t, err)
			eq(fmt.Sprintf("CountTenantConnections %s up to %d", tn, max), n, min(len(wantTenant), max))
		}
		for _, u := range users {
			got, err := s.UserConnections(ctx, tn, u)
			must(t, err)
			want := where(liveConns, func(c store.Connection) bool { return c.TenantID == tn && c.UserID == u })
			eq("UserConnections "+tn+" "+u, got, want)
			for _, max := range []int{1, 2, len(want) + 1} {
				n, err := s.CountUserConnections(ctx, tn, u, max)
				must(t, err)
				eq(fmt.Sprintf("CountUserConnections %s %s up to %d", tn, u, max), n, min(len(want), max))
			}
		}
		for _, r := range rooms {
			got, err := s.RoomMembers(ctx, tn, r)
			must(t, err)
			// In no particular order (the store promises none): compared
			// in the table's.
			sorted := slices.SortedFunc(got.All(), func(a, b store.Membership) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
			// Their ExpiresAt may be an older expiry of the membership
			// (Store.RoomMembers: a heartbeat does not copy the shared
			// list): compared without it. ConnectionRooms below checks
			// every live membership's current expiry.
			want := where(liveMembers, func(m store.Membership) bool { return m.TenantID == tn && m.RoomID == r })
			eq("RoomMembers "+tn+" "+r, withoutExpiry(sorted), withoutExpiry(want))
		}
	}
	for _, c := range conns {
		got, err := s.ConnectionRooms(ctx, c)
		must(t, err)
		eq("ConnectionRooms "+c, got, where(liveMembers, func(m store.Membership) bool { return m.ConnectionID == c }))
		want := where(liveConns, func(lc store.Connection) bool { return lc.ConnectionID == c })
		gc, err := s.GetConnection(ctx, c)
		switch {
		case len(want) == 0 && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("after %s: GetConnection %s = %+v, %v; want not found", step, c, gc, err)
		case len(want) == 1:
			must(t, err)
			eq("GetConnection "+c, gc, want[0])
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Random writes, with the clock moving so that items expire and are swept
// or touched: after each, the index answers every read as the model the
// test keeps does; after a reopen, it holds nothing (connections died with
// the process).
func TestIndexMatchesModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := storetest.NewClock(time.Date(2025, 3, 4, 5, 6, 7, 890_123_456, time.UTC))
	s := openTest(t, dir, clk.Now)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	tenants := []string{"t1", "t2"}
	users := []string{"u1", "u2", "u3"}
	rooms := []string{"r1", "r2", "r3"}
	var conns []string
	// 30 connections: 15 per tenant and 10 per user, more than a small
	// connSet holds, so that sets grow from slices into maps.
	for i := range 30 {
		conns = append(conns, fmt.Sprintf("c%02d", i))
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	// The tenant and user of a connection id, fixed so that memberships
	// agree with their connection.
	owner := func(c string) (string, string) {
		i := slices.Index(conns, c)
		return tenants[i%2], users[i%3]
	}
	md := newModel()
	for step := range 600 {
		c := pick(conns)
		tn, u := owner(c)
		now := clk.Now()
		ttl := time.Duration(1+rng.IntN(20)) * time.Second
		var what string
		switch op := rng.IntN(10); op {
		case 0, 1:
			what = "PutConnection " + c
			nc := store.Connection{ConnectionID: c, TenantID: tn, UserID: u, Username: "name " + u,
				ConnectedAt: now, ExpiresAt: now.Add(ttl), SourceIP: "::1", UserAgent: "test"}
			err := s.PutConnection(ctx, nc)
			_, taken := md.conns[c]
			if taken != errors.Is(err, store.ErrExists) || (err != nil && !taken) {
				t.Fatalf("PutConnection %s (taken %v): %v", c, taken, err)
			}
			if !taken {
				nc.ConnectedAt, nc.ExpiresAt = fromMs(ms(nc.ConnectedAt)), fromMs(ms(nc.ExpiresAt))
				md.conns[c] = nc
			}
		case 2, 3, 4:
			r := pick(rooms)
			what = "JoinRoom " + c + " " + r
			m := store.Membership{TenantID: tn, RoomID: r, ConnectionID: c, UserID: u, Username: "name " + u,
				JoinedAt: now, ExpiresAt: now.Add(ttl)}
			j, err := s.JoinRoom(ctx, m, 0)
			k := memberKeyOf(m)
			if mc, ok := md.conns[c]; !ok || ms(mc.ExpiresAt) <= ms(now) {
				// No membership of a connection that is not there or has
				// expired.
				if !errors.Is(err, store.ErrNotFound) || j.Joined {
					t.Fatalf("JoinRoom %s %s without its live connection = %+v, %v; want ErrNotFound", c, r, j, err)
				}
				break
			}
			must(t, err)
			if old, ok := md.members[k]; !ok || ms(old.ExpiresAt) <= ms(now) {
				if !j.Joined {
					t.Fatalf("JoinRoom %s %s: not joined", c, r)
				}
				md.members[k] = normMember(m)
			} else if j.Joined {
				t.Fatalf("JoinRoom %s %s: joined again", c, r)
			}
		case 5:
			r := pick(rooms)
			what = "LeaveRoom " + c + " " + r
			_, err := s.LeaveRoom(ctx, tn, r, c)
			must(t, err)
			delete(md.members, memberKey{tn, r, c})
		case 6:
			what = "DeleteConnection " + c
			if _, _, err := s.DeleteConnection(ctx, c); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			// A connection deleted takes its memberships with it.
			if _, ok := md.conns[c]; ok {
				delete(md.conns, c)
				for k := range md.members {
					if k.conn == c {
						delete(md.members, k)
					}
				}
			}
		case 7:
			what = "TouchConnection " + c
			if err := s.TouchConnection(ctx, c, now.Add(ttl)); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if mc, ok := md.conns[c]; ok && ms(mc.ExpiresAt) > ms(now) {
				mc.ExpiresAt = fromMs(ms(now.Add(ttl)))
				md.conns[c] = mc
				for k, m := range md.members {
					if k.conn == c && ms(m.ExpiresAt) > ms(now) {
						m.ExpiresAt = mc.ExpiresAt
						md.members[k] = m
					}
				}
			}
		case 8:
			what = "DeleteExpired"
			imgs, err := s.DeleteExpired(ctx, now, 1+rng.IntN(4))
			if err != nil {
				t.Fatal(err)
			}
			// What it deleted had expired; the model forgets it.
			for _, img := range imgs {
				switch img.Type() {
				case store.TypeMembership:
					m, err := img.Membership()
					must(t, err)
					k := memberKeyOf(m)
					if mm, ok := md.members[k]; !ok || ms(mm.ExpiresAt) > ms(now) {
						t.Fatalf("DeleteExpired deleted membership %+v, not expired in the model (%+v)", m, mm)
					}
					delete(md.members, k)
				case store.TypeConnection:
					c, err := img.Connection()
					must(t, err)
					if mc, ok := md.conns[c.ConnectionID]; !ok || ms(mc.ExpiresAt) > ms(now) {
						t.Fatalf("DeleteExpired deleted connection %+v, not expired in the model (%+v)", c, mc)
					}
					delete(md.conns, c.ConnectionID)
				}
			}
		case 9:
			d := time.Duration(rng.IntN(3000)) * time.Millisecond
			what = fmt.Sprint("clock +", d)
			clk.Advance(d)
		}
		lc, lm := md.live(ms(clk.Now()))
		checkIndex(t, s, fmt.Sprint(step, " ", what), tenants, users, rooms, conns, lc, lm)
	}
	must(t, s.Close())
	s = openTest(t, dir, clk.Now)
	checkIndex(t, s, "reopening", tenants, users, rooms, conns, nil, nil)
}

// A slice RoomMembers returned does not change under its holder when the
// room changes afterwards.
func TestRoomMembersSnapshot(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), func() time.Time { return t0 })
	ctx := t.Context()
	join := func(c string) {
		t.Helper()
		if _, err := s.GetConnection(ctx, c); errors.Is(err, store.ErrNotFound) {
			must(t, s.PutConnection(ctx, store.Connection{ConnectionID: c, TenantID: "t", UserID: "u" + c, ExpiresAt: t0.Add(time.Hour)}))
		}
		_, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: c, UserID: "u" + c,
			JoinedAt: t0, ExpiresAt: t0.Add(time.Hour)}, 0)
		must(t, err)
	}
	for _, c := range []string{"b", "d", "f"} {
		join(c)
	}
	before, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	kept := before.Slice()
	join("a")
	join("e")
	if _, err := s.LeaveRoom(ctx, "t", "r", "d"); err != nil {
		t.Fatal(err)
	}
	must(t, s.TouchConnection(ctx, "b", t0.Add(2*time.Hour)))
	if !reflect.DeepEqual(before.Slice(), kept) {
		t.Errorf("the members RoomMembers returned changed:\n now %+v\nwas %+v", before.Slice(), kept)
	}
	after, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	// In no particular order (the store promises none).
	sorted := slices.SortedFunc(after.All(), func(a, b store.Membership) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	var ids []string
	for _, m := range sorted {
		ids = append(ids, m.ConnectionID)
	}
	if want := []string{"a", "b", "e", "f"}; !slices.Equal(ids, want) {
		t.Errorf("members after the changes: %v, want %v", ids, want)
	}
	if !sorted[1].ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("touched membership expires at %v", sorted[1].ExpiresAt)
	}
	// A copy (Slice) changed does not reach the store.
	copied := after.Slice()
	first := copied[0].ConnectionID
	copied[0].ConnectionID = "changed"
	again, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	if l := again.Slice(); len(l) != 4 || l[0].ConnectionID != first {
		t.Errorf("changing a copy of the members changed the store: %+v", l)
	}
}

// One store per data directory: a second Open fails with ErrLocked until
// the first store is closed.
func TestOpenLocksTheDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	} else if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	must(t, s.Close())
	s = openTest(t, dir, nil)
	must(t, s.Close())
}

// Another process cannot open a directory this one holds, and can once it
// is released.
func TestOpenLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	if dir := os.Getenv("SWITCHBOARD_TEST_OPEN_DIR"); dir != "" {
		// The child: report what Open says.
		s, err := Open(dir, Options{})
		if err != nil {
			fmt.Println("open failed:", err)
			os.Exit(3)
		}
		s.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	child := func() (string, int) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestOpenLockedByAnotherProcess$")
		cmd.Env = append(os.Environ(), "SWITCHBOARD_TEST_OPEN_DIR="+dir)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := child()
	if code != 3 || !strings.Contains(out, ErrLocked.Error()) {
		t.Errorf("child opening a held directory: exit %d, output %q", code, out)
	}
	must(t, s.Close())
	if out, code := child(); code != 0 {
		t.Errorf("child opening a released directory: exit %d, output %q", code, out)
	}
}

// Writes and reads of many users, rooms and tenants at once (the index's
// shards are taken one at a time by each): the race detector finds no
// unguarded access, and once the writers are done the index's views
// (tenant, user, room, connection) agree.
func TestIndexConcurrent(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := openTest(t, t.TempDir(), func() time.Time { return t0 })
	ctx := t.Context()
	tenants := []string{"t1", "t2"}
	users := []string{"u0", "u1", "u2", "u3"}
	rooms := []string{"r0", "r1", "r2"}
	var conns []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		for i := range 10 {
			conns = append(conns, fmt.Sprintf("w%d-c%d", w, i))
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			tn, u := tenants[w%2], users[w]
			for range 300 {
				c := fmt.Sprintf("w%d-c%d", w, rng.IntN(10))
				exp := t0.Add(time.Duration(1+rng.IntN(100)) * time.Minute)
				var err error
				switch rng.IntN(5) {
				case 0:
					err = s.PutConnection(ctx, store.Connection{ConnectionID: c, TenantID: tn, UserID: u, ConnectedAt: t0, ExpiresAt: exp})
				case 1, 2:
					_, err = s.JoinRoom(ctx, store.Membership{TenantID: tn, RoomID: rooms[rng.IntN(len(rooms))], ConnectionID: c,
						UserID: u, JoinedAt: t0, ExpiresAt: exp}, 0)
				case 3:
					err = s.TouchConnection(ctx, c, exp)
				case 4:
					_, _, err = s.DeleteConnection(ctx, c)
				}
				if err != nil && !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tn := tenants[i%2]
				s.RoomMembers(ctx, tn, rooms[i%len(rooms)])
				s.TenantConnections(ctx, tn)
				s.CountUserConnections(ctx, tn, users[(i+r)%len(users)], 3)
				s.GetConnection(ctx, fmt.Sprintf("w%d-c%d", r, i%10))
				s.ConnectionRooms(ctx, fmt.Sprintf("w%d-c%d", (r+1)%4, i%10))
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	// The views of the index agree: the live connections are what
	// GetConnection finds, the live memberships what ConnectionRooms does.
	var lc []store.Connection
	var lm []store.Membership
	for _, c := range slices.Sorted(slices.Values(conns)) {
		if gc, err := s.GetConnection(ctx, c); err == nil {
			lc = append(lc, gc)
		}
		cr, err := s.ConnectionRooms(ctx, c)
		must(t, err)
		lm = append(lm, cr...)
	}
	slices.SortFunc(lm, func(a, b store.Membership) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.RoomID, b.RoomID),
			strings.Compare(a.ConnectionID, b.ConnectionID))
	})
	checkIndex(t, s, "concurrent writes", tenants, users, rooms, conns, lc, lm)
}

// withoutExpiry returns copies of ms with ExpiresAt zero.
func withoutExpiry(ms []store.Membership) []store.Membership {
	if ms == nil {
		return nil
	}
	out := make([]store.Membership, len(ms))
	for i, m := range ms {
		m.ExpiresAt = time.Time{}
		out[i] = m
	}
	return out
}
