package cli

import (
	"context"
	"errors"
	"io"

	"github.com/switchboard-ws/switchboard/internal/bench"
)

// runBench is `switchboard bench SCENARIO [flags]` (see package bench).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := bench.Main(ctx, args, stdout, stderr)
	if errors.Is(err, bench.ErrUsage) {
		return errUsage
	}
	return err
}
