package dynamo

import (
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/storetest"
)

func TestConformance(t *testing.T) {
	client := LocalClient(endpoint(t))
	start := time.Now()
	storetest.RunParallel(t, func(t *testing.T, now func() time.Time) store.Store {
		return New(client, newTable(t, client), Options{Now: now})
	})
	t.Logf("conformance suite: %v", time.Since(start).Round(time.Millisecond))
}
