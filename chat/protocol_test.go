package chat

import (
	"slices"
	"testing"

	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// The message handler serves exactly the protocol's actions.
func TestActionsAreTheProtocols(t *testing.T) {
	t.Parallel()
	got := Actions()
	slices.Sort(got)
	want := slices.Clone(protocol.Actions)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the handler serves %q, the protocol has %q", got, want)
	}
}
