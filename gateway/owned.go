package gateway

import (
	"context"
	"sync/atomic"
)

// goroutines counts goroutines a Server owns, so that Shutdown can wait
// for them. A Server has two: wg for its own (readers, dispatchers,
// $disconnect, writers queued and direct) and calls for those that run an
// integration or the authorizer so that a timeout can answer without them.
// Every goroutine the package starts is counted in one of them, except the
// janitor, which Shutdown stops and waits for on its own (janitorDone), and
// a pooled goroutine while it waits for its next function (callers.go:
// the function is counted, by whoever hands it).
//
// The rule that keeps the count exact: a goroutine is counted (Add) before
// it starts, by a caller that is itself counted or that holds the lock of a
// connection still open (a connection's reader, which is counted, cannot
// finish until it takes that lock). So once the count reaches zero after
// Shutdown began, nothing adds to it again.
//
// It is a counter, not a sync.WaitGroup, because the wait must end with
// Shutdown's context (an integration may run user code that never returns;
// WaitGroup.Wait cannot be abandoned without leaking the goroutine that
// calls it), and Add from zero concurrent with a wait is not a misuse here.
// Add and Done are one atomic add each and allocate nothing: writers are
// started on the send path.
type goroutines struct {
	n       atomic.Int64
	_       [56]byte // its own cache line: writers of every connection touch n
	waiting atomic.Bool
	zero    chan struct{} // buffered 1: Done signals a waiter that n reached 0
}

func newGoroutines() goroutines { return goroutines{zero: make(chan struct{}, 1)} }

// Add counts delta more goroutines, before they start.
func (g *goroutines) Add(delta int) { g.n.Add(int64(delta)) }

// Done is deferred by a counted goroutine.
func (g *goroutines) Done() {
	if g.n.Add(-1) == 0 && g.waiting.Load() {
		select {
		case g.zero <- struct{}{}:
		default:
		}
	}
}

// Go starts f as a counted goroutine: the one way the Server starts a
// goroutine off the send path (the writers, started per connection, call
// Add and go themselves so that starting one allocates no closure).
func (g *goroutines) Go(f func()) {
	g.Add(1)
	go func() {
		defer g.Done()
		f()
	}()
}

// Wait waits until no counted goroutine runs or ctx ends; it returns how
// many still run then (0 when it did not give up).
func (g *goroutines) Wait(ctx context.Context) int64 {
	g.waiting.Store(true)
	for {
		// Done stores n before it loads waiting, and Wait stores waiting
		// before it loads n: either this load sees 0 or Done signals.
		n := g.n.Load()
		if n == 0 {
			return 0
		}
		select {
		case <-g.zero:
		case <-ctx.Done():
			return g.n.Load()
		}
	}
}

// Running is the number of counted goroutines.
func (g *goroutines) Running() int64 { return g.n.Load() }
