package devstack

import (
	"context"
	"fmt"
)

// staleReporter is the embedded store: how many connections of the previous
// process Open found (and expired: that process is gone, so are they).
type staleReporter interface{ StaleAtOpen() int }

// clearStale runs the connections the previous process left behind (a
// kill -9, a crash: no $disconnect ran) through the cleanup handler now,
// before anything listens, as the sweeper would once they expired:
// memberships removed, user_left and offline announced (to nobody yet),
// nothing left that shows a user online.
func (s *Stack) clearStale(ctx context.Context) error {
	sr, ok := s.Store.(staleReporter)
	if !ok || sr.StaleAtOpen() == 0 {
		return nil
	}
	n, err := s.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("clearing the connections of the previous process: %w", err)
	}
	s.log.Info("cleared the connections of the previous process: it had stopped without closing them",
		"connections", sr.StaleAtOpen(), "items", n)
	return nil
}
