package httpserve

import "testing"

func TestMaxConnectionsFor(t *testing.T) {
	for _, c := range []struct {
		limit uint64
		want  int
	}{
		{20000, 17500},
		{1024, 768},
		{512, 256},
		{300, 150},
		{1, 1},
		{1 << 40, maxDefaultConnections},
		{^uint64(0), maxDefaultConnections},
	} {
		if got := maxConnectionsFor(c.limit); got != c.want {
			t.Errorf("maxConnectionsFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}
