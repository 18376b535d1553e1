package postgres

import (
	"os"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/storetest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// The tests run against a real PostgreSQL that internal/testutil starts
// (one server per test binary, one database per test).

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopPostgres()
	os.Exit(code)
}

// open opens a store on url at the clock now, closed when the test ends.
func open(t testing.TB, url string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, Options{Now: now, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunParallel(t, func(t *testing.T, now func() time.Time) store.Store {
		return open(t, testutil.Postgres(t), now)
	})
}
