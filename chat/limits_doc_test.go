package chat

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/protocol.md states the limits' defaults: they are the constants.
func TestProtocolDocStatesTheLimits(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	for _, want := range []string{
		fmt.Sprintf("| requests per connection | %d/s, burst %d |", DefaultActionRate, DefaultActionBurst),
		fmt.Sprintf("| bytes per tenant | %d MiB/s, burst %d MiB |", DefaultTenantBytesRate>>20, DefaultTenantBytesBurst>>20),
		fmt.Sprintf("| rooms created per user | %d per minute, burst %d |", DefaultRoomCreateRate, DefaultRoomCreateBurst),
		fmt.Sprintf("| rooms per connection | %d |", DefaultMaxRoomsPerConnection),
		fmt.Sprintf("may join up to %d rooms", DefaultMaxRoomsPerConnection),
		fmt.Sprintf("(%d by default): leave one first", DefaultMaxRoomsPerConnection),
		"On AWS Lambda each instance counts for itself",
		fmt.Sprintf("| joins and leaves announced | in rooms of at most %d connections |", DefaultAnnounceMaxMembers),
		fmt.Sprintf("rooms that hold at most %d connections once the join or leave is done", DefaultAnnounceMaxMembers),
		fmt.Sprintf("| presence announced | in tenants of at most %d connections |", DefaultPresenceMaxConnections),
		fmt.Sprintf("tenants that hold at most %d live connections once the connect or disconnect is done", DefaultPresenceMaxConnections),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/protocol.md does not say %q", want)
		}
	}
}
