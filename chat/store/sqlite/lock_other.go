//go:build !unix

package sqlite

// lockDir does not lock on this platform: running two processes on one
// data directory is not detected here; each would see only its own
// connections and room members (they are in its memory), and both would
// write the rooms and messages.
func lockDir(path string) (release func() error, err error) {
	return func() error { return nil }, nil
}
