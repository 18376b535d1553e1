package eventsource

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
)

// removes returns the REMOVE records delivered, by key.
func removes(fn *recorder) map[string]events.DynamoDBEventRecord {
	out := map[string]events.DynamoDBEventRecord{}
	for _, r := range fn.records() {
		if r.EventName == "REMOVE" {
			out[r.Change.Keys["pk"].String()] = r
		}
	}
	return out
}

func isTTL(r events.DynamoDBEventRecord) bool {
	u := r.UserIdentity
	return u != nil && u.Type == "Service" && u.PrincipalID == "dynamodb.amazonaws.com"
}

// TestLocalTTLDeletions: DynamoDB Local's own TTL deletions reach the
// function as AWS's do (REMOVE, userIdentity Service); the application's
// deletions carry no identity.
func TestLocalTTLDeletions(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "exp")
	fn := &recorder{}
	start(t, DynamoDBStreamOptions{TableName: table, Function: fn})
	now := time.Now().Unix()
	put(t, db, table, "expired", map[string]types.AttributeValue{"exp": num(now - 10)})
	put(t, db, table, "mine", map[string]types.AttributeValue{"exp": num(now + 3600)})
	del(t, db, table, "mine")
	eventually(t, "both REMOVE records", func() bool { return len(removes(fn)) == 2 })
	rm := removes(fn)
	if r := rm["expired"]; !isTTL(r) || r.Change.OldImage["exp"].Number() == "" || r.Change.NewImage != nil {
		t.Errorf("the TTL deletion: %+v", r)
	}
	if r := rm["mine"]; r.UserIdentity != nil {
		t.Errorf("the application's deletion has userIdentity %+v", r.UserIdentity)
	}
	// The JSON, as a function in any language reads it.
	fn.mu.Lock()
	defer fn.mu.Unlock()
	found := false
	for _, raw := range fn.raw {
		var ev struct {
			Records []struct {
				EventName    string          `json:"eventName"`
				UserIdentity json.RawMessage `json:"userIdentity"`
				Change       struct {
					Keys map[string]map[string]string
				} `json:"dynamodb"`
			}
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			if r.EventName == "REMOVE" && r.Change.Keys["pk"]["S"] == "expired" {
				found = true
				if string(r.UserIdentity) != `{"type":"Service","principalId":"dynamodb.amazonaws.com"}` {
					t.Errorf("the TTL deletion's userIdentity: %s", r.UserIdentity)
				}
			}
		}
	}
	if !found {
		t.Error("no REMOVE of the expired item in the JSON")
	}
}

// TestTTLSweeper: the sweeper deletes what expired by its clock, unless it
// was refreshed meanwhile; the mappings given it deliver its deletions,
// and only those, as TTL deletions.
func TestTTLSweeper(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "exp")
	now := time.Now()
	later := now.Add(2 * time.Hour) // the sweeper's clock; DynamoDB Local's own TTL sees nothing expired
	sw, err := NewTTLSweeper(TTLSweeperOptions{Client: db, TableName: table, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	fnA, fnB := &recorder{}, &recorder{}
	start(t, DynamoDBStreamOptions{TableName: table, Function: fnA, TTLSweeper: sw})
	start(t, DynamoDBStreamOptions{TableName: table, Function: fnB, TTLSweeper: sw})
	in := func(d time.Duration) types.AttributeValue { return num(now.Add(d).Unix()) }
	put(t, db, table, "a", map[string]types.AttributeValue{"exp": in(time.Hour)})
	put(t, db, table, "b", map[string]types.AttributeValue{"exp": in(3 * time.Hour)})
	put(t, db, table, "c", map[string]types.AttributeValue{"exp": &types.AttributeValueMemberS{Value: "1"}})
	put(t, db, table, "d", nil)
	put(t, db, table, "e", map[string]types.AttributeValue{"exp": in(time.Hour)})
	put(t, db, table, "f", map[string]types.AttributeValue{"exp": in(time.Hour)})
	del(t, db, table, "f") // expired by the sweeper's clock, but deleted by the application
	// e is refreshed between the sweeper's scan and its DeleteItem.
	sw.beforeDelete = func(key map[string]types.AttributeValue) {
		if key["pk"].(*types.AttributeValueMemberS).Value != "e" {
			return
		}
		put(t, db, table, "e", map[string]types.AttributeValue{"exp": in(5 * time.Hour)})
	}
	n, err := sw.Sweep(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (a)", n, err)
	}
	del(t, db, table, "b")
	for _, fn := range []*recorder{fnA, fnB} {
		eventually(t, "the REMOVE of b", func() bool { _, ok := removes(fn)["b"]; return ok })
		rm := removes(fn)
		if got := slices.Sorted(maps.Keys(rm)); !slices.Equal(got, []string{"a", "b", "f"}) {
			t.Fatalf("REMOVE records of %v, want a, b, f", got)
		}
		if !isTTL(rm["a"]) || rm["a"].Change.OldImage["exp"].Number() == "" {
			t.Errorf("the sweeper's deletion of a: %+v", rm["a"])
		}
		if rm["b"].UserIdentity != nil || rm["f"].UserIdentity != nil {
			t.Errorf("the application's deletions: b %+v, f %+v", rm["b"].UserIdentity, rm["f"].UserIdentity)
		}
	}
	got, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "e"}}, ConsistentRead: aws.Bool(true)})
	if err != nil || len(got.Item) == 0 {
		t.Errorf("the refreshed item was deleted: %v", err)
	}
	sw.mu.Lock()
	left := len(sw.swept)
	sw.mu.Unlock()
	if left != 0 {
		t.Errorf("the sweeper still remembers %d deletions both mappings have seen", left)
	}
}

// TestTTLSweeperWithoutTTL: a table whose TTL is not enabled is left alone.
func TestTTLSweeperWithoutTTL(t *testing.T) {
	t.Parallel()
	db, streams := clients(t)
	table := newTable(t, db, "")
	put(t, db, table, "old", map[string]types.AttributeValue{"exp": num(time.Now().Add(-time.Hour).Unix())})
	sw, err := NewTTLSweeper(TTLSweeperOptions{Client: db, TableName: table})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sw.Sweep(context.Background()); n != 0 || err != nil {
		t.Errorf("Sweep = %d, %v on a table without TTL", n, err)
	}
	if _, err := NewTTLSweeper(TTLSweeperOptions{Client: db}); err == nil {
		t.Error("a sweeper without a table")
	}
	_, err = NewDynamoDBStream(DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "other", Function: &recorder{}, TTLSweeper: sw})
	if err == nil || !strings.Contains(err.Error(), "sweeps table") {
		t.Errorf("a mapping given a sweeper of another table: %v", err)
	}
}

// pushes records what the chat backend posts.
type pushes struct {
	mu    sync.Mutex
	posts []string // "connectionId data"
}

func (p *pushes) Post(ctx context.Context, id string, data []byte) error {
	_, err := p.PostMany(ctx, []string{id}, data)
	return err
}

func (p *pushes) PostMany(_ context.Context, ids []string, data []byte) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.posts = append(p.posts, id+" "+string(data))
	}
	return nil, nil
}

func (p *pushes) find(parts ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.posts {
		ok := true
		for _, part := range parts {
			ok = ok && strings.Contains(s, part)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestChatCleanupOnSweep: the chat backend's cleanup handler, fed by the
// mapping, takes the sweeper's deletion of an expired connection as TTL's
// and tells the tenant that its user went offline.
func TestChatCleanupOnSweep(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	ctx := context.Background()
	table := tableName(t, db)
	if err := EnsureTable(ctx, db, dynamo.TableSchema(table), dynamo.TTLAttribute); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	later := func() time.Time { return now.Add(2 * time.Hour) }
	st := dynamo.New(db, table, dynamo.Options{Now: later})
	for _, c := range []store.Connection{
		{ConnectionID: "c-alice", TenantID: "t1", UserID: "alice", Username: "Alice", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ConnectionID: "c-bob", TenantID: "t1", UserID: "bob", Username: "Bob", ConnectedAt: now, ExpiresAt: now.Add(3 * time.Hour)},
	} {
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	p := &pushes{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := chat.New(st, p, nil, chat.Config{Now: later, Logger: quiet})
	sw, err := NewTTLSweeper(TTLSweeperOptions{Client: db, TableName: table, Now: later, Interval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cleanup := Handler(func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, svc.Cleanup(ctx, ev)
	})
	start(t, DynamoDBStreamOptions{TableName: table, Function: cleanup, FunctionName: "cleanup", TTLSweeper: sw})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close(context.Background()) })
	eventually(t, "bob told that alice is offline", func() bool {
		return p.find("c-bob", `"presence"`, `"alice"`, `"offline"`)
	})
	if p.find("c-bob", `"bob"`, `"offline"`) {
		t.Error("bob, whose connection lives on, was announced offline")
	}
	var post struct {
		Type string            `json:"type"`
		Data map[string]string `json:"data"`
	}
	p.mu.Lock()
	for _, s := range p.posts {
		if strings.HasPrefix(s, "c-bob ") && strings.Contains(s, "offline") {
			json.Unmarshal([]byte(strings.TrimPrefix(s, "c-bob ")), &post)
		}
	}
	p.mu.Unlock()
	if post.Type != chat.BroadcastPresence || post.Data["userId"] != "alice" || post.Data["status"] != "offline" {
		t.Errorf("presence post %+v", post)
	}
}
