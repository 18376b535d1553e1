package eventsource

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fullTable is a template's table: composite key, a GSI, an LSI, on-demand
// billing and a NEW_AND_OLD_IMAGES stream.
func fullTable(name string) *dynamodb.CreateTableInput {
	s := func(n string, t types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: t}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			s("PK", types.ScalarAttributeTypeS), s("SK", types.ScalarAttributeTypeS),
			s("GSI1PK", types.ScalarAttributeTypeS), s("at", types.ScalarAttributeTypeN),
		},
		KeySchema:              key("PK", "SK"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("GSI1"), KeySchema: key("GSI1PK", "SK"), Projection: all}},
		LocalSecondaryIndexes:  []types.LocalSecondaryIndex{{IndexName: aws.String("ByTime"), KeySchema: key("PK", "at"), Projection: all}},
		BillingMode:            types.BillingModePayPerRequest,
		StreamSpecification:    &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	}
}

func describeAll(t *testing.T, db *dynamodb.Client, name string) (*types.TableDescription, *types.TimeToLiveDescription) {
	t.Helper()
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := db.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Table, ttl.TimeToLiveDescription
}

// TestEnsureTableCreates: a missing table is created as the template says,
// with its stream and TTL, and ACTIVE when EnsureTable returns.
func TestEnsureTableCreates(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	name := tableName(t, db)
	if err := EnsureTable(context.Background(), db, fullTable(name), "expiresAt"); err != nil {
		t.Fatal(err)
	}
	desc, ttl := describeAll(t, db, name)
	if desc.TableStatus != types.TableStatusActive {
		t.Errorf("status %s", desc.TableStatus)
	}
	if got := keyText(desc.KeySchema, attrTypes(desc.AttributeDefinitions)); got != "HASH PK (S), RANGE SK (S)" {
		t.Errorf("key %s", got)
	}
	if len(desc.GlobalSecondaryIndexes) != 1 || aws.ToString(desc.GlobalSecondaryIndexes[0].IndexName) != "GSI1" ||
		len(desc.LocalSecondaryIndexes) != 1 || aws.ToString(desc.LocalSecondaryIndexes[0].IndexName) != "ByTime" {
		t.Errorf("indexes: %d global, %d local", len(desc.GlobalSecondaryIndexes), len(desc.LocalSecondaryIndexes))
	}
	if s := desc.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewAndOldImages || desc.LatestStreamArn == nil {
		t.Errorf("stream %+v", s)
	}
	if ttl == nil || ttl.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.AttributeName) != "expiresAt" {
		t.Errorf("TTL %+v", ttl)
	}
}

// TestEnsureTableIdempotent: running it again, or from several processes
// at once, changes nothing and keeps the data.
func TestEnsureTableIdempotent(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	name := tableName(t, db)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = EnsureTable(context.Background(), db, fullTable(name), "expiresAt")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent EnsureTable: %v", err)
	}
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}, "SK": &types.AttributeValueMemberS{Value: "b"}}
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
		t.Fatal(err)
	}
	before, _ := describeAll(t, db, name)
	if err := EnsureTable(context.Background(), db, fullTable(name), "expiresAt"); err != nil {
		t.Fatalf("again: %v", err)
	}
	after, ttl := describeAll(t, db, name)
	if aws.ToString(after.LatestStreamArn) != aws.ToString(before.LatestStreamArn) {
		t.Errorf("the stream changed: %s then %s", aws.ToString(before.LatestStreamArn), aws.ToString(after.LatestStreamArn))
	}
	got, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name), Key: item})
	if err != nil || len(got.Item) == 0 {
		t.Errorf("the item is gone: %v", err)
	}
	if ttl.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL %+v", ttl)
	}
}

// TestEnsureTableMismatch: an existing table with another key is left as
// it is, and the error says what differs.
func TestEnsureTableMismatch(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	name := tableName(t, db)
	if err := EnsureTable(context.Background(), db, simpleTable(name, types.StreamViewTypeKeysOnly), "ttl"); err != nil {
		t.Fatal(err)
	}
	put(t, db, name, "keep", nil)
	cases := []struct {
		name string
		in   *dynamodb.CreateTableInput
		ttl  string
		want []string
	}{
		{"other key", fullTable(name), "", []string{"the key is HASH pk (S), the template wants HASH PK (S), RANGE SK (S)", "local secondary index ByTime is missing"}},
		{"other type", func() *dynamodb.CreateTableInput {
			in := simpleTable(name, types.StreamViewTypeKeysOnly)
			in.AttributeDefinitions[0].AttributeType = types.ScalarAttributeTypeN
			return in
		}(), "", []string{"the key is HASH pk (S), the template wants HASH pk (N)"}},
		{"other stream view", simpleTable(name, types.StreamViewTypeNewImage), "", []string{"the stream's view type is KEYS_ONLY, the template wants NEW_IMAGE"}},
		{"other TTL attribute", simpleTable(name, types.StreamViewTypeKeysOnly), "expiresAt", []string{`TTL is enabled on "ttl", the template wants "expiresAt"`}},
	}
	for _, c := range cases {
		err := EnsureTable(context.Background(), db, c.in, c.ttl)
		if !errors.Is(err, ErrSchemaMismatch) {
			t.Errorf("%s: %v, want ErrSchemaMismatch", c.name, err)
			continue
		}
		for _, w := range append(c.want, name) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
	got, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "keep"}}})
	if err != nil || len(got.Item) == 0 {
		t.Errorf("the table's data is gone: %v", err)
	}
	for _, in := range []*dynamodb.CreateTableInput{nil, {}, {TableName: aws.String("x")}} {
		if err := EnsureTable(context.Background(), db, in, ""); err == nil {
			t.Errorf("EnsureTable(%+v) accepted an incomplete spec", in)
		}
	}
	bad := simpleTable("x", types.StreamViewTypeKeysOnly)
	bad.AttributeDefinitions = nil
	if err := EnsureTable(context.Background(), db, bad, ""); err == nil || !strings.Contains(err.Error(), `"pk" has no AttributeDefinitions`) {
		t.Errorf("a key without its definition: %v", err)
	}
}

// TestEnsureTableCompletes: an existing table without the stream, the TTL
// and an index the template adds gets them, and keeps its data.
func TestEnsureTableCompletes(t *testing.T) {
	t.Parallel()
	db, _ := clients(t)
	name := tableName(t, db)
	bare := fullTable(name)
	bare.StreamSpecification = nil
	bare.GlobalSecondaryIndexes = nil
	bare.AttributeDefinitions = bare.AttributeDefinitions[:2]
	bare.AttributeDefinitions = append(bare.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("at"), AttributeType: types.ScalarAttributeTypeN})
	if _, err := db.CreateTable(context.Background(), bare); err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}, "SK": &types.AttributeValueMemberS{Value: "b"}, "GSI1PK": &types.AttributeValueMemberS{Value: "g"}}
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTable(context.Background(), db, fullTable(name), "expiresAt"); err != nil {
		t.Fatal(err)
	}
	desc, ttl := describeAll(t, db, name)
	if s := desc.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream %+v", s)
	}
	if ttl.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.AttributeName) != "expiresAt" {
		t.Errorf("TTL %+v", ttl)
	}
	if len(desc.GlobalSecondaryIndexes) != 1 || desc.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive {
		t.Fatalf("global indexes %+v", desc.GlobalSecondaryIndexes)
	}
	q, err := db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(name), IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberS{Value: "g"}},
	})
	if err != nil || q.Count != 1 {
		t.Errorf("the new index does not find the item: %v, %d", err, q.Count)
	}
}
