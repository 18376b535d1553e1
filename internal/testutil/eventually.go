package testutil

import (
	"fmt"
	"testing"
	"time"
)

// Polling intervals of Eventually: it starts fast and backs off, so that a
// condition that holds at once costs almost nothing and a slow one does not
// burn a core.
const (
	firstPoll = time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Eventually polls cond, with backoff, until it holds, and fails the test
// (t.Fatalf) if it still does not hold after timeout. format and args say
// what was awaited.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, fmt.Sprintf(format, args...))
	}
}

// Poll reports whether cond held before timeout passed, polling it with the
// backoff of Eventually, for a test that reports the failure itself. cond is
// tried at least once, and once more at the deadline.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := firstPoll
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, maxPoll)
	}
}
