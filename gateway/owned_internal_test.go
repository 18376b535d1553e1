package gateway

import (
	"context"
	"testing"
)

func TestGoroutinesWait(t *testing.T) {
	t.Parallel()
	g := newGoroutines()
	if n := g.Wait(context.Background()); n != 0 {
		t.Fatalf("Wait with nothing counted: %d", n)
	}

	// Wait returns once the last counted goroutine is done.
	release := make(chan struct{})
	for range 3 {
		g.Go(func() { <-release })
	}
	waited := make(chan int64)
	go func() { waited <- g.Wait(context.Background()) }()
	close(release)
	if n := <-waited; n != 0 || g.Running() != 0 {
		t.Fatalf("Wait returned %d with %d running, want 0", n, g.Running())
	}

	// A goroutine that does not end: Wait gives up with ctx and says how
	// many still run; the count is right again once it ends.
	stuck := make(chan struct{})
	ended := make(chan struct{})
	g.Go(func() { <-stuck; close(ended) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := g.Wait(ctx); n != 1 {
		t.Fatalf("Wait with a stuck goroutine and an ended context: %d, want 1", n)
	}
	close(stuck)
	<-ended
	if n := g.Wait(context.Background()); n != 0 {
		t.Fatalf("Wait after the stuck goroutine ended: %d", n)
	}
}

// Starting a writer must not allocate: it is on the send path.
func TestGoroutinesAddDoneAllocateNothing(t *testing.T) {
	g := newGoroutines()
	if a := testing.AllocsPerRun(100, func() { g.Add(1); g.Done() }); a != 0 {
		t.Fatalf("Add+Done: %v allocations, want 0", a)
	}
}
