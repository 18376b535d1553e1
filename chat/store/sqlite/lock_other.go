//go:build !unix

package sqlite

// lockDir does not lock on this platform: running two processes on one
// data directory is not detected here, and the second one's in-memory
// index would go stale.
func lockDir(path string) (release func() error, err error) {
	return func() error { return nil }, nil
}
