package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// poolIdle is how long (at least; at most twice) a pooled goroutine waits
// for its next function before it ends. A burst of connects and messages then runs on goroutines
// whose stacks already grew to a handler's depth, instead of starting one
// per call and growing its stack two or three times (an event is over
// 600 bytes, passed by value through several frames): that growth was
// ~4% of a connect's CPU for the calls, ~2% for the dispatchers. The
// goroutines waiting hold their stacks only that long.
const poolIdle = time.Second

// pool runs functions on goroutines counted in count, keeping each for
// poolIdle after its function returns to run the next one handed to it.
// A Server has two: callers (counted in calls) run the integrations and
// the authorizer, dispatchers (counted in wg) the connections' dispatch
// loops.
//
// A handler runs on a goroutine that may have run others before: what it
// leaves on its goroutine (pprof labels, a runtime.LockOSThread without
// unlock) stays for the next. Nothing of the gateway's does.
//
// The count is of the functions handed and not finished, not of the
// goroutines: whoever hands a function (itself counted, or holding an open
// connection's lock: owned.go) counts it, the goroutine that ran it
// uncounts it when it returns. A goroutine waiting for its next function
// runs nothing of anyone's and is not counted: Shutdown, which waits for
// the count, does not take it for work still running (with a context
// already ended it would have returned an error for a server with nothing
// running). Once Shutdown began (stop), the waiting ones end at once, and
// those that finish a function end instead of waiting.
//
// A function goes to the goroutine that waited the least (a stack, not a
// queue): under a steady flow the same few take every function and the
// others end when their timer finds them idle, so that the pool shrinks
// to what runs at once. Handed round in turn (an unbuffered channel's
// receivers are served longest waiting first), every goroutine of a past
// burst would get a function before its timer fired, and the pool would
// keep as many as functions come in poolIdle, with their stacks.
type pool struct {
	count *goroutines
	stop  <-chan struct{} // closed when Shutdown begins
	// idleFor is poolIdle (shorter in tests).
	idleFor time.Duration

	mu sync.Mutex
	// idle holds the goroutines waiting for a function, the latest to
	// finish one last (handed first), and entries of goroutines that left
	// (ended) since, stale of them, skipped.
	idle  []*poolWorker
	stale int

	// waiting is how many goroutines wait for a function.
	waiting atomic.Int64
}

// poolWorker is a goroutine of a pool.
type poolWorker struct {
	work chan func() // buffered 1: Go hands it a function it took off idle
	idle bool        // in pool.idle and not left (under pool.mu)
}

func newPool(count *goroutines, stop <-chan struct{}) *pool {
	return &pool{count: count, stop: stop, idleFor: poolIdle}
}

// Go runs f, counted until it returns, on the goroutine that waited the
// least for work if one waits, else on a new one. f must not panic: one
// that does takes the process down, as it would on a goroutine of its own
// (invoke and authorize recover the handlers' panics inside f).
func (p *pool) Go(f func()) {
	p.count.Add(1) // for f, whichever goroutine runs it
	if w := p.take(); w != nil {
		w.work <- f // never blocks: w waits for it, and nothing else is sent to it
		return
	}
	go p.run(f)
}

// take takes the goroutine that waited the least off idle, nil if none
// waits.
func (p *pool) take() *poolWorker {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if w.idle {
			w.idle = false
			p.mu.Unlock()
			return w
		}
		p.stale--
	}
	p.mu.Unlock()
	return nil
}

// park puts w on idle: it waits for a function.
func (p *pool) park(w *poolWorker) {
	p.mu.Lock()
	w.idle = true
	p.idle = append(p.idle, w)
	p.mu.Unlock()
}

// leave takes w off idle before it ends; false when Go took it first: a
// function is on its way to w, which must run it.
func (p *pool) leave(w *poolWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !w.idle {
		return false
	}
	// Its entry stays, skipped by take, until more than half are stale
	// (the goroutines that end are the ones at the bottom).
	w.idle = false
	p.stale++
	if p.stale > len(p.idle)/2 {
		kept := p.idle[:0]
		for _, x := range p.idle {
			if x.idle {
				kept = append(kept, x)
			}
		}
		clear(p.idle[len(kept):])
		p.idle, p.stale = kept, 0
	}
	return true
}

// call runs f, counted in p.count until it returns (or panics, or calls
// runtime.Goexit).
func (p *pool) call(f func()) {
	defer p.count.Done()
	f()
}

// run runs f, then the functions it is handed, until none came for
// poolIdle (between one and two poolIdle: the timer is armed once, not
// per function, and only re-armed when it finds work was done since) or
// Shutdown began.
func (p *pool) run(f func()) {
	w := &poolWorker{work: make(chan func(), 1)}
	idle := time.NewTimer(p.idleFor)
	defer idle.Stop()
	ran := 0 // functions run since the timer was last armed
	for {
		p.call(f)
		f = nil // not kept alive while waiting
		ran++
		p.waiting.Add(1)
		p.park(w)
		for f == nil {
			select {
			case f = <-w.work:
			case <-idle.C:
				if ran > 0 {
					ran = 0
					idle.Reset(p.idleFor)
					continue
				}
				if p.leave(w) {
					p.waiting.Add(-1)
					return
				}
				// Taken by Go as the timer fired: run its function, with
				// the timer armed again.
				idle.Reset(p.idleFor)
				f = <-w.work
			case <-p.stop:
				if p.leave(w) {
					p.waiting.Add(-1)
					return
				}
				f = <-w.work
			}
		}
		p.waiting.Add(-1)
	}
}

// goCall runs f on one of the server's callers (s.calls).
func (s *Server) goCall(f func()) { s.callers.Go(f) }
