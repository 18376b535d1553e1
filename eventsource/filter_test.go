package eventsource

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/integration"
)

// samCleanupPattern is the FilterCriteria pattern of deploy/sam's cleanup
// function, read from the template.
func samCleanupPattern(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/sam/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*- Pattern: '(.*)'\s*$`).FindAllSubmatch(b, -1)
	if len(m) != 1 {
		t.Fatalf("deploy/sam/template.yaml has %d FilterCriteria patterns, want 1", len(m))
	}
	return string(m[0][1])
}

// TestFilterCriteria: with deploy/sam's pattern, only the TTL deletions of
// connections and memberships reach the function; inserts, updates, the
// application's deletions and the TTL deletions of other items are passed
// over, and no invocation is empty.
func TestFilterCriteria(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "exp")
	now := time.Now()
	later := now.Add(2 * time.Hour) // the sweeper's clock; DynamoDB Local's own TTL sees nothing expired
	sw, err := NewTTLSweeper(TTLSweeperOptions{Client: db, TableName: table, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, TTLSweeper: sw, BatchSize: 3,
		Filters: []string{samCleanupPattern(t)}})
	item := func(typ string, ttl time.Duration) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"type": &types.AttributeValueMemberS{Value: typ}, "exp": num(now.Add(ttl).Unix())}
	}
	put(t, db, table, "conn", item("CONNECTION", time.Hour))   // INSERT, then TTL REMOVE: delivered
	put(t, db, table, "member", item("MEMBERSHIP", time.Hour)) // INSERT, then TTL REMOVE: delivered
	put(t, db, table, "room", item("ROOM", time.Hour))         // INSERT, then TTL REMOVE of another type
	put(t, db, table, "live", item("CONNECTION", 3*time.Hour)) // INSERT
	put(t, db, table, "live", item("CONNECTION", 4*time.Hour)) // MODIFY
	put(t, db, table, "gone", item("CONNECTION", 3*time.Hour)) // INSERT
	del(t, db, table, "gone")                                  // the application's REMOVE
	if n, err := sw.Sweep(context.Background()); err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3 (conn, member, room)", n, err)
	}
	put(t, db, table, "after", item("CONNECTION", 3*time.Hour)) // INSERT, after the TTL deletions
	// Passed over: 6 INSERTs, 1 MODIFY, the application's REMOVE, the TTL REMOVE of the room.
	eventually(t, "the records read", func() bool { s := m.Stats(); return s.Filtered == 9 && s.Delivered == 2 })
	got := fn.records()
	var keys []string
	for _, r := range got {
		keys = append(keys, r.Change.Keys["pk"].String()+":"+r.EventName)
		if !isTTL(r) {
			t.Errorf("a record that is not a TTL deletion: %+v", r)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"conn:REMOVE", "member:REMOVE"}) {
		t.Errorf("delivered %v, want the TTL deletions of conn and member", keys)
	}
	for i, c := range fn.calls() {
		if len(c) == 0 {
			t.Errorf("invocation %d is empty", i+1)
		}
	}
	if s := m.Stats(); s.Invocations != int64(len(fn.calls())) || s.Invocations > 2 {
		t.Errorf("stats %+v after %d invocations", s, len(fn.calls()))
	}
}

// TestFilterCriteriaBatches: filtered records do not count against the
// batch size, a retried batch holds the same matching records, and
// records that filter to nothing invoke nothing.
func TestFilterCriteriaBatches(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	for i := range 12 {
		kind := "skip"
		if i%4 == 3 {
			kind = "keep"
		}
		put(t, db, table, kind+string(rune('a'+i)), map[string]types.AttributeValue{"kind": &types.AttributeValueMemberS{Value: kind}})
	}
	fn := &recorder{respond: func(call int, _ events.DynamoDBEvent) ([]byte, error) {
		if call == 1 {
			return nil, &integration.FunctionError{Message: "first call fails"}
		}
		return []byte("null"), nil
	}}
	m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, BatchSize: 2, StartingPosition: TrimHorizon,
		Filters: []string{`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}`}})
	eventually(t, "three records delivered", func() bool { return m.Stats().Delivered == 3 })
	eventually(t, "nine records passed over", func() bool { return m.Stats().Filtered == 9 })
	calls := fn.calls()
	// The first batch fails and comes again, as it was: two records that
	// match, none of those passed over between them.
	want := [][]string{{"keepd:INSERT", "keeph:INSERT"}, {"keepd:INSERT", "keeph:INSERT"}, {"keepl:INSERT"}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("invocations %v, want %v", calls, want)
	}
	// Nothing that matches comes: nothing is invoked.
	put(t, db, table, "skipz", map[string]types.AttributeValue{"kind": &types.AttributeValueMemberS{Value: "skip"}})
	eventually(t, "the new record passed over", func() bool { return m.Stats().Filtered == 10 })
	if n := len(fn.calls()); n != len(calls) {
		t.Errorf("%d invocations after a record that matches no filter, want %d", n, len(calls))
	}
}

// TestFilterCriteriaRefused: a bad pattern is refused when the mapping is
// made, naming what is wrong.
func TestFilterCriteriaRefused(t *testing.T) {
	t.Parallel()
	db, streams := clients(t)
	_, err := NewDynamoDBStream(DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "T", Function: &recorder{},
		Filters: []string{`{"eventName": ["INSERT"]}`, `{"eventName": "REMOVE"}`}})
	if err == nil || !strings.Contains(err.Error(), `Filters[1]: eventName: "REMOVE" must be in a list`) {
		t.Errorf("a bad pattern: %v", err)
	}
}
