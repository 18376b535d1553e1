package gateway

import (
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
type pool struct {
	count *goroutines
	work  chan func()     // unbuffered: a send succeeds only if one waits
	stop  <-chan struct{} // closed when Shutdown begins
	// waiting is how many goroutines wait for a function.
	waiting atomic.Int64
}

func newPool(count *goroutines, stop <-chan struct{}) *pool {
	return &pool{count: count, work: make(chan func()), stop: stop}
}

// Go runs f, counted until it returns, on a goroutine that waits for work
// if there is one, else a new one. f must not panic: one that does takes the process
// down, as it would on a goroutine of its own (invoke and authorize
// recover the handlers' panics inside f).
func (p *pool) Go(f func()) {
	p.count.Add(1) // for f, whichever goroutine runs it
	select {
	case p.work <- f:
	default:
		go p.run(f)
	}
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
	idle := time.NewTimer(poolIdle)
	defer idle.Stop()
	ran := 0 // functions run since the timer was last armed
	for {
		p.call(f)
		f = nil // not kept alive while waiting
		ran++
		p.waiting.Add(1)
		for f == nil {
			select {
			case f = <-p.work:
			case <-idle.C:
				if ran == 0 {
					p.waiting.Add(-1)
					return
				}
				ran = 0
				idle.Reset(poolIdle)
			case <-p.stop:
				p.waiting.Add(-1)
				return
			}
		}
		p.waiting.Add(-1)
	}
}

// goCall runs f on one of the server's callers (s.calls).
func (s *Server) goCall(f func()) { s.callers.Go(f) }
