package gateway

import (
	"testing"
	"unsafe"
)

// An idle connection's memory is mostly its goroutine, its socket and this
// struct: a field that pushes the struct into the next size class (320
// bytes) costs every connection 32 bytes. Put rarely used state behind a
// pointer, or pack it with the small fields.
func TestConnSize(t *testing.T) {
	t.Parallel()
	const max = 288
	if n := unsafe.Sizeof(conn{}); n > max {
		t.Fatalf("conn is %d bytes, more than the %d-byte size class", n, max)
	}
}
