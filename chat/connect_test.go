package chat

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/protocol.md states the per-user connection limit: it is the
// constant.
func TestProtocolDocStatesTheUserConnectionLimit(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("at most %d live connections at once", DefaultMaxConnectionsPerUser)
	if !strings.Contains(strings.Join(strings.Fields(string(b)), " "), want) {
		t.Errorf("docs/protocol.md does not say %q", want)
	}
}

func TestMaxConnectionsPerUserConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, want int }{
		{0, DefaultMaxConnectionsPerUser},
		{5, 5},
		{-1, 0}, // no limit
	} {
		c := Config{MaxConnectionsPerUser: tc.set}
		if got := c.maxConnectionsPerUser(); got != tc.want {
			t.Errorf("MaxConnectionsPerUser %d: limit %d, want %d", tc.set, got, tc.want)
		}
	}
}
