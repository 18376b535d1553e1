// Temporary: switchboard with `bench` until cli.go registers it. Not committed.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/switchboard-ws/switchboard/bench"
	"github.com/switchboard-ws/switchboard/internal/cli"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		err := bench.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr)
		if errors.Is(err, bench.ErrUsage) {
			os.Exit(2)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "switchboard bench:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
