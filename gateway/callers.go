package gateway

import (
	"sync/atomic"
	"time"
)

// callerIdle is how long a goroutine that ran an integration or the
// authorizer waits for the next call before it ends. A burst of connects
// and messages then runs its calls on goroutines whose stacks already grew
// to a handler's depth, instead of starting one per call and growing its
// stack two or three times (a handler's event is over a kilobyte, passed
// by value through several frames): that growth was ~4% of a connect's
// CPU. The goroutines waiting hold their stacks only that long.
const callerIdle = time.Second

// callers hands calls to the goroutines waiting for one (caller).
type callers struct {
	work chan func()   // unbuffered: a send succeeds only if one waits
	stop chan struct{} // closed when Shutdown begins: the waiting ones end
	// waiting is how many goroutines wait for a call.
	waiting atomic.Int64
}

func newCallers() callers {
	return callers{work: make(chan func()), stop: make(chan struct{})}
}

// goCall runs f on a goroutine counted in s.calls: one that waits for a
// call if there is one, else a new one. f must not panic (invoke and
// authorize recover inside it).
//
// The count stays exact (owned.go): a goroutine waiting is still counted,
// and a new one is counted by the caller, which is itself counted. Once
// Shutdown began, the waiting ones end (stop) and nothing new is called
// after the server's own goroutines are done, so s.calls reaches zero.
func (s *Server) goCall(f func()) {
	select {
	case s.callers.work <- f:
	default:
		s.calls.Add(1)
		go s.caller(f)
	}
}

// caller runs f, then the calls it is handed, until none came for
// callerIdle or Shutdown began.
func (s *Server) caller(f func()) {
	defer s.calls.Done()
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	for {
		f()
		f = nil // not kept alive while waiting
		if idle == nil {
			idle = time.NewTimer(callerIdle)
		} else {
			idle.Reset(callerIdle)
		}
		s.callers.waiting.Add(1)
		select {
		case f = <-s.callers.work:
		case <-idle.C:
		case <-s.callers.stop:
		}
		s.callers.waiting.Add(-1)
		if f == nil {
			return
		}
	}
}
