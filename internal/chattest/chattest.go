// Package chattest is the chat backend's end-to-end suite: real WebSocket
// clients speaking the protocol of docs/protocol.md to a running system
// (a Target), with assertions on what they receive and on what the store
// holds afterwards. The same suite runs against every way the handlers are
// deployed: `switchboard dev` in-process, pushing through the @connections
// API, on the DynamoDB store, on three cluster nodes sharing PostgreSQL
// (Target.URLs spreads each test's clients over the nodes), and the built
// Lambda bootstrap driven by the gateway through the Runtime API.
//
// Every test names its tenants (and ghost connections) uniquely, so one
// Target may serve several tests, one after the other or in parallel.
// Tests that need time to pass move the Target's Clock when it has one,
// and otherwise make the store's records expired.
package chattest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// Target is a running chat system.
type Target struct {
	// URL is the stage's WebSocket URL, e.g. ws://127.0.0.1:8080/dev.
	URL string
	// URLs, when set, are the same stage's URLs on the nodes of a
	// cluster: each new connection goes to the next one in turn (URL is
	// then unused), so that the users of a test sit on different nodes.
	URLs []string
	next atomic.Uint64 // the URLs' turn
	// Token mints a token the system's authorizer accepts for id, issued
	// at issuedAt and valid for ttl.
	Token func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error)
	// Store is the system's store, for the assertions that read it and for
	// writing ghost connections (records whose socket is gone).
	Store store.Store
	// Sweep does what DynamoDB's TTL and Streams do on AWS: it deletes the
	// items expired now and delivers them to the cleanup handler as REMOVE
	// records. It returns how many items it deleted.
	Sweep func(ctx context.Context) (int, error)
	// Settle, when set, waits until the deliveries the system makes
	// asynchronously (a fan-out queue) are done. Checks that nothing
	// arrived call it first: without a queue, every broadcast an action
	// makes is posted before the action's reply.
	Settle func(ctx context.Context) error
	// Clock, when set, is the system's clock (authorizer, handlers and
	// store), which tests move. When nil the system runs on the real clock
	// and tests that need time to pass make the store's records expired
	// instead.
	Clock *Clock
	// Timeout bounds each wait for a reply, a broadcast or a condition
	// (default 10s). It is a deadline for failing, not a measurement:
	// set it generously where cold starts make first replies slow.
	Timeout time.Duration
}

// dialURL is the URL the next connection dials: URL, or the next of URLs.
func (tg *Target) dialURL() string {
	if len(tg.URLs) == 0 {
		return tg.URL
	}
	return tg.URLs[(tg.next.Add(1)-1)%uint64(len(tg.URLs))]
}

func (tg *Target) now() time.Time {
	if tg.Clock != nil {
		return tg.Clock.Now()
	}
	return time.Now()
}

func (tg *Target) timeout() time.Duration {
	if tg.Timeout > 0 {
		return tg.Timeout
	}
	return 10 * time.Second
}

// Clock is a settable clock shared by a system and its tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to the current time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Tests of the suite, by name.
var Tests = []struct {
	Name string
	Run  func(*testing.T, *Target)
}{
	{"authentication", Authentication},
	{"end to end", ChatEndToEnd},
	{"malformed requests", MalformedRequestsChangeNothing},
	{"ghost expires", GhostConnectionExpires},
	{"gone is removed", GoneConnectionIsRemovedOnPost},
	{"history pages", HistoryPagination},
	{"heartbeat after expiry", HeartbeatAfterExpiry},
	{"envelope edge cases", EnvelopeEdgeCases},
	{"room text rules", RoomTextRules},
	{"cursor scope", CursorScope},
}

// Run runs every test of the suite as a subtest, each against the target
// newTarget returns for it (a fresh system, or a shared one).
func Run(t *testing.T, newTarget func(t *testing.T) *Target) {
	t.Helper()
	for _, tc := range Tests {
		t.Run(tc.Name, func(t *testing.T) { tc.Run(t, newTarget(t)) })
	}
}

// RunParallel is Run with the tests in parallel, for a newTarget that
// returns a fresh system of its own to each test (its own store, sweeper
// and clock): then a test's Sweep or Clock cannot touch another's.
func RunParallel(t *testing.T, newTarget func(t *testing.T) *Target) {
	t.Helper()
	for _, tc := range Tests {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			tc.Run(t, newTarget(t))
		})
	}
}

// Eventually waits until cond holds, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	testutil.Eventually(t, timeout, cond, "%s", what)
}

// unique returns base with a suffix no other call returns, so that tests
// sharing a system (and a store) do not see each other's data.
func unique(base string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return base + "-" + hex.EncodeToString(b)
}

// ghostID returns a fresh connection id in API Gateway's shape (12
// characters, base64 alphabet, ending in =) that no live socket has.
func ghostID(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return (prefix + "0000000")[:7] + hex.EncodeToString(b) + "="
}
