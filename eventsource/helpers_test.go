package eventsource

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopDynamoDB()
	os.Exit(code)
}

// clients returns a DynamoDB and a DynamoDB Streams client on DynamoDB
// Local, starting it on first use.
func clients(t testing.TB) (*dynamodb.Client, *dynamodbstreams.Client) {
	t.Helper()
	endpoint := testutil.DynamoDB(t)
	creds := credentials.NewStaticCredentialsProvider("local", "local", "")
	db := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds,
		DisableValidateResponseChecksum: true,
	})
	streams := dynamodbstreams.New(dynamodbstreams.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds,
	})
	return db, streams
}

var tableSeq atomic.Int64

// tableName returns a name no other test uses, and deletes the table at
// the end of the test (DynamoDB Local may be shared).
func tableName(t testing.TB, db *dynamodb.Client) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	name := fmt.Sprintf("es-%s-%d-%d", base, time.Now().UnixNano(), tableSeq.Add(1))
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// simpleTable is a table keyed by pk (S) with a stream.
func simpleTable(name string, view types.StreamViewType) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view},
	}
}

// newTable creates a simple table with a NEW_AND_OLD_IMAGES stream (and
// TTL on ttl, if not empty).
func newTable(t testing.TB, db *dynamodb.Client, ttl string) string {
	t.Helper()
	name := tableName(t, db)
	if err := EnsureTable(context.Background(), db, simpleTable(name, types.StreamViewTypeNewAndOldImages), ttl); err != nil {
		t.Fatal(err)
	}
	return name
}

func put(t testing.TB, db *dynamodb.Client, table, pk string, attrs map[string]types.AttributeValue) {
	t.Helper()
	item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
	for k, v := range attrs {
		item[k] = v
	}
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func del(t testing.TB, db *dynamodb.Client, table, pk string) {
	t.Helper()
	_, err := db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func num(n int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }

// recorder is an in-process function that records every event it gets
// and answers with respond (nil: success).
type recorder struct {
	mu      sync.Mutex
	events  []events.DynamoDBEvent
	raw     [][]byte
	respond func(call int, ev events.DynamoDBEvent) ([]byte, error)
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.raw = append(r.raw, payload)
	call := len(r.events)
	respond := r.respond
	r.mu.Unlock()
	if respond == nil {
		return []byte("null"), nil
	}
	return respond(call, ev)
}

// calls lists each invocation's records as "pk:EVENTNAME".
func (r *recorder) calls() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]string, len(r.events))
	for i, ev := range r.events {
		out[i] = describe(ev)
	}
	return out
}

// records returns every record delivered, in order.
func (r *recorder) records() []events.DynamoDBEventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.DynamoDBEventRecord
	for _, ev := range r.events {
		out = append(out, ev.Records...)
	}
	return out
}

func describe(ev events.DynamoDBEvent) []string {
	out := make([]string, len(ev.Records))
	for i, rec := range ev.Records {
		out[i] = rec.Change.Keys["pk"].String() + ":" + rec.EventName
	}
	return out
}

// eventually polls cond until it holds, or fails the test after 15 s
// (testutil.Eventually, with this package's argument order).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, cond, "%s", what)
}

// logs captures log records.
type logs struct {
	mu   sync.Mutex
	recs []string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logs) WithAttrs(attrs []slog.Attr) slog.Handler { return &logsWith{l, attrs} }
func (l *logs) WithGroup(string) slog.Handler            { return l }

// find returns the records that contain every part.
func (l *logs) find(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, r := range l.recs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

type logsWith struct {
	l     *logs
	attrs []slog.Attr
}

func (w *logsWith) Enabled(context.Context, slog.Level) bool { return true }
func (w *logsWith) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(w.attrs...)
	return w.l.Handle(ctx, r)
}
func (w *logsWith) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logsWith{w.l, append(append([]slog.Attr(nil), w.attrs...), attrs...)}
}
func (w *logsWith) WithGroup(string) slog.Handler { return w }

// start starts a mapping on table with fast test timings; it is closed at
// the end of the test.
func start(t testing.TB, opts DynamoDBStreamOptions) *DynamoDBStream {
	t.Helper()
	if opts.DynamoDB == nil {
		opts.DynamoDB, opts.Streams = clients(t)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = 5 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(&logs{})
	}
	m, err := NewDynamoDBStream(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return m
}
