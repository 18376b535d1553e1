//go:build !unix

package localca

// lock is a no-op where flock is not available: two processes creating
// the CA at the same moment may then each write one, and the last wins.
func lock(dir string) (unlock func(), err error) { return func() {}, nil }
