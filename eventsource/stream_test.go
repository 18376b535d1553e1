package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/integration"
)

// TestDeliversChangesInOrder: an item put, updated and deleted reaches the
// function as INSERT, MODIFY, REMOVE, in Lambda's exact event shape.
func TestDeliversChangesInOrder(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	fn := &recorder{}
	m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, Region: "eu-west-1"})

	item := map[string]types.AttributeValue{
		"s":     &types.AttributeValueMemberS{Value: "text é"},
		"n":     &types.AttributeValueMemberN{Value: "-12.5"},
		"b":     &types.AttributeValueMemberB{Value: []byte{1, 2, 3}},
		"t":     &types.AttributeValueMemberBOOL{Value: true},
		"null":  &types.AttributeValueMemberNULL{Value: true},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{4}, {5}}},
		"l":     &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "7"}}},
		"m":     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
		"empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"none":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"deep": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"a": &types.AttributeValueMemberN{Value: "1"},
			"e": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}}},
		}},
	}
	before := time.Now()
	put(t, db, table, "item", item)
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "item"}},
		UpdateExpression:          aws.String("SET s = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "changed"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	del(t, db, table, "item")
	eventually(t, "three records", func() bool { return len(fn.records()) >= 3 })

	recs := fn.records()
	if got, want := names(recs), []string{"item:INSERT", "item:MODIFY", "item:REMOVE"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	desc, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	if m.StreamARN() != arn {
		t.Errorf("StreamARN() = %q, want %q", m.StreamARN(), arn)
	}
	wantImage := map[string]events.DynamoDBAttributeValue{
		"pk":    events.NewStringAttribute("item"),
		"s":     events.NewStringAttribute("text é"),
		"n":     events.NewNumberAttribute("-12.5"),
		"b":     events.NewBinaryAttribute([]byte{1, 2, 3}),
		"t":     events.NewBooleanAttribute(true),
		"null":  events.NewNullAttribute(),
		"ss":    events.NewStringSetAttribute([]string{"a", "b"}),
		"ns":    events.NewNumberSetAttribute([]string{"1", "2"}),
		"bs":    events.NewBinarySetAttribute([][]byte{{4}, {5}}),
		"l":     events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("x"), events.NewNumberAttribute("7")}),
		"m":     events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewStringAttribute("v")}),
		"empty": events.NewListAttribute([]events.DynamoDBAttributeValue{}),
		"none":  events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}),
		"deep": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
			"a": events.NewNumberAttribute("1"),
			"e": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}),
			"l": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{})}),
		}),
	}
	changed := maps.Clone(wantImage)
	changed["s"] = events.NewStringAttribute("changed")
	wantKeys := map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("item")}
	for i, want := range []struct {
		old, new map[string]events.DynamoDBAttributeValue
	}{
		{nil, wantImage}, {wantImage, changed}, {changed, nil},
	} {
		r := recs[i]
		if r.EventVersion != "1.1" || r.EventSource != "aws:dynamodb" || r.AWSRegion != "eu-west-1" || r.EventSourceArn != arn {
			t.Errorf("record %d: eventVersion %q eventSource %q awsRegion %q eventSourceARN %q", i, r.EventVersion, r.EventSource, r.AWSRegion, r.EventSourceArn)
		}
		if r.EventID == "" || r.UserIdentity != nil {
			t.Errorf("record %d: eventID %q userIdentity %+v", i, r.EventID, r.UserIdentity)
		}
		c := r.Change
		if c.StreamViewType != "NEW_AND_OLD_IMAGES" || c.SequenceNumber == "" || c.SizeBytes <= 0 {
			t.Errorf("record %d: StreamViewType %q SequenceNumber %q SizeBytes %d", i, c.StreamViewType, c.SequenceNumber, c.SizeBytes)
		}
		// DynamoDB Local rounds the creation time down to the minute.
		if at := c.ApproximateCreationDateTime.Time; at.Before(before.Add(-time.Minute)) || at.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %d: ApproximateCreationDateTime %v, not about now", i, at)
		}
		if i > 0 && !seqLess(recs[i-1].Change.SequenceNumber, c.SequenceNumber) {
			t.Errorf("sequence numbers out of order: %s then %s", recs[i-1].Change.SequenceNumber, c.SequenceNumber)
		}
		sameImage(t, fmt.Sprintf("record %d Keys", i), c.Keys, wantKeys)
		sameImage(t, fmt.Sprintf("record %d OldImage", i), c.OldImage, want.old)
		sameImage(t, fmt.Sprintf("record %d NewImage", i), c.NewImage, want.new)
	}

	// The raw JSON, as a function in any language reads it.
	var raw struct {
		Records []map[string]json.RawMessage
	}
	fn.mu.Lock()
	first := fn.raw[0]
	fn.mu.Unlock()
	if err := json.Unmarshal(first, &raw); err != nil {
		t.Fatal(err)
	}
	var change struct {
		NewImage                    map[string]map[string]any
		ApproximateCreationDateTime json.Number
	}
	if err := json.Unmarshal(raw.Records[0]["dynamodb"], &change); err != nil {
		t.Fatal(err)
	}
	img := change.NewImage
	for name, want := range map[string]any{
		"b": map[string]any{"B": "AQID"}, "t": map[string]any{"BOOL": true}, "null": map[string]any{"NULL": true},
		"n": map[string]any{"N": "-12.5"}, "empty": map[string]any{"L": []any{}}, "none": map[string]any{"M": map[string]any{}},
		"m": map[string]any{"M": map[string]any{"k": map[string]any{"S": "v"}}},
	} {
		if !reflect.DeepEqual(img[name], want) {
			t.Errorf("NewImage.%s in JSON = %#v, want %#v", name, img[name], want)
		}
	}
	if _, err := change.ApproximateCreationDateTime.Float64(); err != nil {
		t.Errorf("ApproximateCreationDateTime %q is not a number of seconds", change.ApproximateCreationDateTime)
	}
	for _, field := range []string{"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"} {
		if _, ok := raw.Records[0][field]; !ok {
			t.Errorf("record JSON lacks %q: %s", field, first)
		}
	}
	if _, ok := raw.Records[0]["userIdentity"]; ok {
		t.Errorf("an INSERT's JSON has a userIdentity: %s", first)
	}
}

func names(recs []events.DynamoDBEventRecord) []string {
	return describe(events.DynamoDBEvent{Records: recs})
}

// seqLess compares sequence numbers (decimal strings).
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// sameImage compares images, sets in any order (DynamoDB keeps none).
func sameImage(t *testing.T, what string, got, want map[string]events.DynamoDBAttributeValue) {
	t.Helper()
	norm := func(m map[string]events.DynamoDBAttributeValue) string {
		if m == nil {
			return "null"
		}
		b, _ := json.Marshal(m)
		var v any
		json.Unmarshal(b, &v)
		sortSets(v)
		b, _ = json.Marshal(v)
		return string(b)
	}
	if g, w := norm(got), norm(want); g != w {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func sortSets(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.([]any); ok && (k == "SS" || k == "NS" || k == "BS") {
				slices.SortFunc(s, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			}
			sortSets(e)
		}
	case []any:
		for _, e := range v {
			sortSets(e)
		}
	}
}

func putItems(t *testing.T, db *dynamodb.Client, table string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		put(t, db, table, k, nil)
	}
}

func inserts(keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + ":INSERT"
	}
	return out
}

// TestBatchSize: records come in batches of at most BatchSize, in order.
func TestBatchSize(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	putItems(t, db, table, keys...)
	fn := &recorder{}
	start(t, DynamoDBStreamOptions{TableName: table, Function: fn, BatchSize: 3, StartingPosition: TrimHorizon})
	eventually(t, "ten records", func() bool { return len(fn.records()) >= 10 })
	want := [][]string{inserts(keys[0:3]...), inserts(keys[3:6]...), inserts(keys[6:9]...), inserts(keys[9])}
	if got := fn.calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("invocations %v, want %v", got, want)
	}
}

// TestPayloadLimit: a batch is cut before its event would exceed Lambda's
// 6 MiB.
func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	big := &types.AttributeValueMemberS{Value: strings.Repeat("x", 380_000)}
	var keys []string
	for i := range 17 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
		put(t, db, table, keys[i], map[string]types.AttributeValue{"big": big})
	}
	fn := &recorder{}
	start(t, DynamoDBStreamOptions{TableName: table, Function: fn, StartingPosition: TrimHorizon})
	eventually(t, "seventeen records", func() bool { return len(fn.records()) >= 17 })
	if got := names(fn.records()); !slices.Equal(got, inserts(keys...)) {
		t.Fatalf("records %v", got)
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if len(fn.raw) < 2 {
		t.Fatalf("%d invocations for 6.5 MB of records", len(fn.raw))
	}
	for i, raw := range fn.raw {
		if len(raw) > 6<<20 {
			t.Errorf("invocation %d: %d bytes, over 6 MiB", i, len(raw))
		}
	}
}

// TestStartingPosition: LATEST delivers only what is written after Start,
// TRIM_HORIZON everything the stream holds.
func TestStartingPosition(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	putItems(t, db, table, "a", "b")
	latest, horizon := &recorder{}, &recorder{}
	start(t, DynamoDBStreamOptions{TableName: table, Function: latest})
	start(t, DynamoDBStreamOptions{TableName: table, Function: horizon, StartingPosition: TrimHorizon})
	putItems(t, db, table, "c")
	eventually(t, "c on both", func() bool {
		return slices.Contains(names(latest.records()), "c:INSERT") && slices.Contains(names(horizon.records()), "c:INSERT")
	})
	if got := names(latest.records()); !slices.Equal(got, inserts("c")) {
		t.Errorf("LATEST delivered %v, want [c:INSERT]", got)
	}
	if got := names(horizon.records()); !slices.Equal(got, inserts("a", "b", "c")) {
		t.Errorf("TRIM_HORIZON delivered %v, want a, b, c", got)
	}
}

// fails answers with a function error when the batch holds key.
func fails(key string) func(int, events.DynamoDBEvent) ([]byte, error) {
	return func(_ int, ev events.DynamoDBEvent) ([]byte, error) {
		if slices.Contains(describe(ev), key+":INSERT") {
			return nil, &integration.FunctionError{Message: "cannot handle " + key, Type: "Error"}
		}
		return nil, nil
	}
}

// TestRetriesThenDiscards: a failing batch is retried MaximumRetryAttempts
// times, then discarded with an ERROR log, and the shard goes on.
func TestRetriesThenDiscards(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	fn := &recorder{respond: fails("bad")}
	log := &logs{}
	m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, FunctionName: "cleanup", MaximumRetryAttempts: aws.Int(2), Logger: slog.New(log)})
	putItems(t, db, table, "bad")
	eventually(t, "the first invocation", func() bool { return len(fn.calls()) >= 1 })
	putItems(t, db, table, "good")
	eventually(t, "good", func() bool { return slices.Contains(names(fn.records()), "good:INSERT") })
	want := [][]string{inserts("bad"), inserts("bad"), inserts("bad"), inserts("good")}
	if got := fn.calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("invocations %v, want %v", got, want)
	}
	if got := log.find("WARN", "retrying", "function=cleanup", "cannot handle bad"); len(got) != 2 {
		t.Errorf("WARN logs of the retries: %q, want 2", got)
	}
	if got := log.find("ERROR", "discarded", "function=cleanup", "records=1", "cannot handle bad"); len(got) != 1 {
		t.Errorf("ERROR log of the discarded record: %q, want 1", got)
	}
	if s := m.Stats(); s.Invocations != 4 || s.FunctionErrors != 3 || s.Discarded != 1 || s.Delivered != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestRetriesUntilSuccess: by default (-1) a batch is retried until the
// function succeeds; errors that are not the function's (it could not be
// reached) are retried even with no retries allowed.
func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	t.Run("function errors", func(t *testing.T) {
		t.Parallel()
		table := newTable(t, db, "")
		fn := &recorder{respond: func(call int, _ events.DynamoDBEvent) ([]byte, error) {
			if call <= 4 {
				return nil, &integration.FunctionError{Message: "not yet"}
			}
			return nil, nil
		}}
		m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn})
		putItems(t, db, table, "x")
		eventually(t, "success", func() bool { return m.Stats().Delivered == 1 })
		if got := fn.calls(); len(got) != 5 || !reflect.DeepEqual(got[4], inserts("x")) {
			t.Errorf("invocations %v, want x five times", got)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		table := newTable(t, db, "")
		fn := &recorder{respond: func(call int, _ events.DynamoDBEvent) ([]byte, error) {
			if call <= 3 {
				return nil, errors.New("connection refused")
			}
			return nil, nil
		}}
		m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, MaximumRetryAttempts: aws.Int(0)})
		putItems(t, db, table, "x")
		eventually(t, "success", func() bool { return m.Stats().Delivered == 1 })
		if s := m.Stats(); s.Unreachable != 3 || s.Discarded != 0 || s.FunctionErrors != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		table := newTable(t, db, "")
		fn2 := integrationFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("http integration: %w", ctx.Err()) // what an invoker returns when its context runs out
		})
		m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn2, MaximumRetryAttempts: aws.Int(1), Timeout: 50 * time.Millisecond})
		putItems(t, db, table, "x")
		eventually(t, "the record discarded", func() bool { return m.Stats().Discarded == 1 })
		if s := m.Stats(); s.FunctionErrors != 2 || s.Invocations != 2 {
			t.Errorf("a timeout is a function error: stats %+v", s)
		}
	})
}

type integrationFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f integrationFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// TestBisect: a failed batch is split in halves until the failing record
// is alone; it alone is retried and discarded.
func TestBisect(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	table := newTable(t, db, "")
	putItems(t, db, table, "r1", "r2", "r3", "r4")
	fn := &recorder{respond: fails("r3")}
	m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, BatchSize: 4, StartingPosition: TrimHorizon,
		BisectBatchOnFunctionError: true, MaximumRetryAttempts: aws.Int(1)})
	eventually(t, "r4 delivered", func() bool { return m.Stats().Delivered == 3 })
	want := [][]string{
		inserts("r1", "r2", "r3", "r4"),
		inserts("r1", "r2"), inserts("r3", "r4"),
		inserts("r3"), inserts("r3"), // one retry
		inserts("r4"),
	}
	if got := fn.calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("invocations %v, want %v", got, want)
	}
	if s := m.Stats(); s.Discarded != 1 {
		t.Errorf("stats %+v", s)
	}
}

// answer returns a batch response naming the records with these keys.
func answer(ev events.DynamoDBEvent, keys ...string) []byte {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		if slices.Contains(keys, r.Change.Keys["pk"].String()) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	b, _ := json.Marshal(resp)
	return b
}

// TestReportBatchItemFailures: the function's batchItemFailures checkpoint
// before the lowest sequence number named.
func TestReportBatchItemFailures(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	keys := []string{"r1", "r2", "r3", "r4", "r5"}
	run := func(t *testing.T, rbif bool, respond func(int, events.DynamoDBEvent) ([]byte, error)) [][]string {
		table := newTable(t, db, "")
		putItems(t, db, table, keys...)
		fn := &recorder{respond: respond}
		m := start(t, DynamoDBStreamOptions{TableName: table, Function: fn, BatchSize: 5, StartingPosition: TrimHorizon, ReportBatchItemFailures: rbif})
		eventually(t, "every record handled", func() bool { return m.Stats().Delivered == 5 })
		return fn.calls()
	}
	t.Run("lowest", func(t *testing.T) {
		t.Parallel()
		got := run(t, true, func(call int, ev events.DynamoDBEvent) ([]byte, error) {
			if call == 1 {
				return answer(ev, "r4", "r2"), nil
			}
			return []byte(`{"batchItemFailures":[]}`), nil
		})
		if want := [][]string{inserts(keys...), inserts(keys[1:]...)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("invocations %v, want %v", got, want)
		}
	})
	t.Run("unknown identifier fails the batch", func(t *testing.T) {
		t.Parallel()
		got := run(t, true, func(call int, ev events.DynamoDBEvent) ([]byte, error) {
			switch call {
			case 1:
				return []byte(`{"batchItemFailures":[{"itemIdentifier":"999"}]}`), nil
			case 2:
				return []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`), nil
			case 3:
				return []byte(`{"batchItemFailures":[{"id":"1"}]}`), nil
			}
			return nil, nil
		})
		if want := [][]string{inserts(keys...), inserts(keys...), inserts(keys...), inserts(keys...)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("invocations %v, want %v", got, want)
		}
	})
	t.Run("ignored without ReportBatchItemFailures", func(t *testing.T) {
		t.Parallel()
		got := run(t, false, func(call int, ev events.DynamoDBEvent) ([]byte, error) {
			return answer(ev, "r1"), nil
		})
		if want := [][]string{inserts(keys...)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("invocations %v, want %v", got, want)
		}
	})
}

// TestCloseWaits: Close lets the invocation running finish and stops
// everything; when its context ends first, the invocation is cancelled.
func TestCloseWaits(t *testing.T) {
	t.Parallel()
	db, streams := clients(t)
	t.Run("for the invocation", func(t *testing.T) {
		t.Parallel()
		table := newTable(t, db, "")
		entered, release := make(chan struct{}), make(chan struct{})
		returned := false
		fn := integrationFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			close(entered)
			<-release
			returned = true
			return nil, nil
		})
		m, err := NewDynamoDBStream(DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: table, Function: fn, PollInterval: 10 * time.Millisecond, Logger: slog.New(&logs{})})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		putItems(t, db, table, "x")
		<-entered
		closed := make(chan error)
		go func() { closed <- m.Close(context.Background()) }()
		<-m.pollCtx.Done() // Close has begun
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while the invocation ran", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if !returned {
			t.Fatal("Close returned before the invocation")
		}
		// Every goroutine is gone: nothing reads the stream any more.
		putItems(t, db, table, "y")
		if s := m.Stats(); s.Invocations != 1 || s.Delivered != 1 {
			t.Errorf("stats after Close: %+v", s)
		}
	})
	t.Run("until its context ends", func(t *testing.T) {
		t.Parallel()
		table := newTable(t, db, "")
		entered := make(chan struct{})
		var sawCancel bool
		fn := integrationFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			close(entered)
			<-ctx.Done()
			sawCancel = true
			return nil, ctx.Err()
		})
		m, err := NewDynamoDBStream(DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: table, Function: fn, PollInterval: 10 * time.Millisecond, Logger: slog.New(&logs{})})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		putItems(t, db, table, "x")
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want the context's deadline", err)
		}
		if !sawCancel {
			t.Fatal("the invocation was not cancelled")
		}
	})
}

// TestOptions: bad options and tables are refused with a clear error.
func TestOptions(t *testing.T) {
	t.Parallel()
	db, streams := clients(t)
	fn := &recorder{}
	for _, c := range []struct {
		opts DynamoDBStreamOptions
		want string
	}{
		{DynamoDBStreamOptions{Streams: streams, TableName: "t", Function: fn}, "DynamoDB"},
		{DynamoDBStreamOptions{DynamoDB: db, Streams: streams, Function: fn}, "TableName"},
		{DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "t"}, "Function"},
		{DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "t", Function: fn, BatchSize: 10001}, "BatchSize 10001"},
		{DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "t", Function: fn, MaximumRetryAttempts: aws.Int(-2)}, "MaximumRetryAttempts -2"},
		{DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: "t", Function: fn, StartingPosition: "AT_TIMESTAMP"}, "StartingPosition"},
	} {
		if _, err := NewDynamoDBStream(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewDynamoDBStream: %v, want an error about %s", err, c.want)
		}
	}
	// A table without a stream.
	table := tableName(t, db)
	in := simpleTable(table, "")
	in.StreamSpecification = nil
	if err := EnsureTable(context.Background(), db, in, ""); err != nil {
		t.Fatal(err)
	}
	m, err := NewDynamoDBStream(DynamoDBStreamOptions{DynamoDB: db, Streams: streams, TableName: table, Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "has no stream") {
		t.Errorf("Start on a table without a stream: %v", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestHandler: a Go function as an Invoker; its errors and panics are
// function errors.
func TestHandler(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"pk":{"S":"a"}}}}]}`)
	ok := Handler(func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[0].Change.SequenceNumber}}}, nil
	})
	out, err := ok.Invoke(context.Background(), payload)
	if err != nil || string(out) != `{"batchItemFailures":[{"itemIdentifier":"1"}]}` {
		t.Errorf("Invoke = %s, %v", out, err)
	}
	var fe *integration.FunctionError
	bad := Handler(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, errors.New("boom")
	})
	if _, err := bad.Invoke(context.Background(), payload); !errors.As(err, &fe) || fe.Message != "boom" {
		t.Errorf("error: %v", err)
	}
	panics := Handler(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		panic("oops")
	})
	if _, err := panics.Invoke(context.Background(), payload); !errors.As(err, &fe) || fe.Message != "oops" {
		t.Errorf("panic: %v", err)
	}
}
