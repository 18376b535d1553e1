package chat

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// docs/protocol.md states the defaults a client notices: they are the
// constants.
func TestProtocolDocStatesTheDefaults(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		fmt.Sprintf("expires %d minutes after its last `heartbeat`", int(DefaultConnectionTTL/time.Minute)),
		fmt.Sprintf("per %d ms per connection", DefaultTypingInterval.Milliseconds()),
		fmt.Sprintf("content over the limit (%d KB by default)", DefaultMaxContentBytes/1024),
	} {
		if !strings.Contains(strings.Join(strings.Fields(doc), " "), want) {
			t.Errorf("docs/protocol.md does not say %q", want)
		}
	}
}
