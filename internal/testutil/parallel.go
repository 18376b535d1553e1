package testutil

import (
	"flag"
	"fmt"
	"testing"
)

// RunParallel runs m's tests with up to n of them at a time in parallel
// (go test's -parallel) unless the command line sets -test.parallel, and
// returns m.Run's exit code. Call it from the TestMain of a package whose
// parallel tests mostly wait (timers, sockets, other processes): go test's
// default, GOMAXPROCS (2 in CI), runs two of them at a time while the CPU
// is idle, and the package holds one of go test's package slots (-p) for
// the sum of their waits.
func RunParallel(m *testing.M, n int) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if f := flag.Lookup("test.parallel"); f != nil {
			f.Value.Set(fmt.Sprint(n))
		}
	}
	return m.Run()
}
