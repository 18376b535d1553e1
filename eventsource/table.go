package eventsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrSchemaMismatch is wrapped by EnsureTable's error when the table exists
// with a schema that cannot be changed in place to the one asked for.
var ErrSchemaMismatch = errors.New("eventsource: existing table does not match the template")

// EnsureTable makes the table that in describes exist, as a template's
// AWS::DynamoDB::Table (or AWS::Serverless::SimpleTable) declares it, and
// waits until it and its indexes are ACTIVE. ttlAttribute, when not empty,
// is the table's TimeToLiveSpecification attribute: TTL is enabled on it.
//
// A table that does not exist is created from in. A table that exists is
// never deleted nor emptied; it is checked and completed:
//   - its key schema (attribute names, HASH/RANGE and types) must be in's,
//     and so must the key schema of every local secondary index of in,
//     and of every global secondary index it shares a name with;
//     otherwise the error wraps ErrSchemaMismatch and says what differs;
//   - a global secondary index of in that the table lacks is created;
//   - a stream that in enables and the table lacks is enabled (a stream
//     with another view type is a mismatch: DynamoDB cannot change it in
//     place);
//   - TTL is enabled on ttlAttribute if it is not enabled (TTL enabled on
//     another attribute is a mismatch).
//
// Settings a running table keeps as they are (billing mode, throughput,
// projections, SSE, tags) are not compared. EnsureTable is idempotent and
// safe to run at every start, and from several processes at once.
func EnsureTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput, ttlAttribute string) error {
	if err := checkSpec(in); err != nil {
		return err
	}
	name := aws.ToString(in.TableName)
	desc, err := describeTable(ctx, client, name)
	if err != nil {
		return fmt.Errorf("eventsource: table %q: %w", name, err)
	}
	if desc == nil {
		_, err := client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: another process created it meanwhile
			return fmt.Errorf("eventsource: creating table %q: %w", name, err)
		}
	}
	desc, err = waitActive(ctx, client, name)
	if err != nil {
		return fmt.Errorf("eventsource: table %q: %w", name, err)
	}
	if diffs := schemaDiffs(in, desc); len(diffs) > 0 {
		return fmt.Errorf("%w: table %q: %s (the table was left as it is: change the template, or delete the table to recreate it)",
			ErrSchemaMismatch, name, strings.Join(diffs, "; "))
	}
	if err := addIndexes(ctx, client, in, desc); err != nil {
		return fmt.Errorf("eventsource: table %q: %w", name, err)
	}
	if err := enableStream(ctx, client, in, desc); err != nil {
		return err
	}
	if ttlAttribute != "" {
		if err := enableTTL(ctx, client, name, ttlAttribute); err != nil {
			return err
		}
	}
	return nil
}

func checkSpec(in *dynamodb.CreateTableInput) error {
	switch {
	case in == nil:
		return errors.New("eventsource: EnsureTable: nil CreateTableInput")
	case aws.ToString(in.TableName) == "":
		return errors.New("eventsource: EnsureTable: CreateTableInput has no TableName")
	case len(in.KeySchema) == 0:
		return fmt.Errorf("eventsource: EnsureTable: table %q: CreateTableInput has no KeySchema", aws.ToString(in.TableName))
	}
	defs := attrTypes(in.AttributeDefinitions)
	check := func(where string, ks []types.KeySchemaElement) error {
		for _, k := range ks {
			if _, ok := defs[aws.ToString(k.AttributeName)]; !ok {
				return fmt.Errorf("eventsource: EnsureTable: table %q: %s key attribute %q has no AttributeDefinitions entry",
					aws.ToString(in.TableName), where, aws.ToString(k.AttributeName))
			}
		}
		return nil
	}
	if err := check("the table's", in.KeySchema); err != nil {
		return err
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if err := check("index "+aws.ToString(g.IndexName)+"'s", g.KeySchema); err != nil {
			return err
		}
	}
	for _, l := range in.LocalSecondaryIndexes {
		if err := check("index "+aws.ToString(l.IndexName)+"'s", l.KeySchema); err != nil {
			return err
		}
	}
	return nil
}

// describeTable returns the table's description, or nil if it does not exist.
func describeTable(ctx context.Context, client *dynamodb.Client, name string) (*types.TableDescription, error) {
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.Table, nil
}

// waitActive polls DescribeTable until the table and its global indexes
// are ACTIVE (at once on DynamoDB Local; the SDK's waiter would sleep 20 s
// first).
func waitActive(ctx context.Context, client *dynamodb.Client, name string) (*types.TableDescription, error) {
	delay := 20 * time.Millisecond
	for {
		desc, err := describeTable(ctx, client, name)
		if err != nil {
			return nil, err
		}
		if desc != nil {
			if desc.TableStatus == types.TableStatusDeleting {
				return nil, errors.New("the table is being deleted")
			}
			active := desc.TableStatus == types.TableStatusActive
			for _, g := range desc.GlobalSecondaryIndexes {
				active = active && g.IndexStatus == types.IndexStatusActive
			}
			if active {
				return desc, nil
			}
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("waiting for the table to be ACTIVE: %w", err)
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func attrTypes(defs []types.AttributeDefinition) map[string]types.ScalarAttributeType {
	m := make(map[string]types.ScalarAttributeType, len(defs))
	for _, d := range defs {
		m[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	return m
}

// keyText describes a key schema: `HASH pk (S), RANGE sk (S)`.
func keyText(ks []types.KeySchemaElement, defs map[string]types.ScalarAttributeType) string {
	if len(ks) == 0 {
		return "no key"
	}
	sorted := slices.Clone(ks)
	slices.SortStableFunc(sorted, func(a, b types.KeySchemaElement) int {
		return strings.Compare(keyOrder(a.KeyType), keyOrder(b.KeyType))
	})
	parts := make([]string, len(sorted))
	for i, k := range sorted {
		name := aws.ToString(k.AttributeName)
		parts[i] = fmt.Sprintf("%s %s (%s)", k.KeyType, name, defs[name])
	}
	return strings.Join(parts, ", ")
}

func keyOrder(t types.KeyType) string {
	if t == types.KeyTypeHash {
		return "0"
	}
	return "1" + string(t)
}

// schemaDiffs lists what differs between what in asks for and the table,
// among what cannot be changed in place.
func schemaDiffs(in *dynamodb.CreateTableInput, desc *types.TableDescription) []string {
	want, have := attrTypes(in.AttributeDefinitions), attrTypes(desc.AttributeDefinitions)
	var diffs []string
	cmpKeys := func(what string, w, h []types.KeySchemaElement) {
		if wt, ht := keyText(w, want), keyText(h, have); wt != ht {
			diffs = append(diffs, fmt.Sprintf("%s is %s, the template wants %s", what, ht, wt))
		}
	}
	cmpKeys("the key", in.KeySchema, desc.KeySchema)
	gsis := map[string][]types.KeySchemaElement{}
	for _, g := range desc.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = g.KeySchema
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if h, ok := gsis[aws.ToString(g.IndexName)]; ok {
			cmpKeys("global secondary index "+aws.ToString(g.IndexName)+"'s key", g.KeySchema, h)
		}
	}
	lsis := map[string][]types.KeySchemaElement{}
	for _, l := range desc.LocalSecondaryIndexes {
		lsis[aws.ToString(l.IndexName)] = l.KeySchema
	}
	for _, l := range in.LocalSecondaryIndexes {
		h, ok := lsis[aws.ToString(l.IndexName)]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("local secondary index %s is missing (local indexes can only be made with the table)", aws.ToString(l.IndexName)))
			continue
		}
		cmpKeys("local secondary index "+aws.ToString(l.IndexName)+"'s key", l.KeySchema, h)
	}
	if ws := in.StreamSpecification; ws != nil && aws.ToBool(ws.StreamEnabled) {
		if hs := desc.StreamSpecification; hs != nil && aws.ToBool(hs.StreamEnabled) && hs.StreamViewType != ws.StreamViewType {
			diffs = append(diffs, fmt.Sprintf("the stream's view type is %s, the template wants %s (DynamoDB cannot change it in place: disable the stream and enable it again)",
				hs.StreamViewType, ws.StreamViewType))
		}
	}
	return diffs
}

// addIndexes creates the global secondary indexes in asks for that the
// table lacks, one at a time (DynamoDB creates one per UpdateTable).
func addIndexes(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput, desc *types.TableDescription) error {
	have := map[string]bool{}
	for _, g := range desc.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	defs := attrTypes(in.AttributeDefinitions)
	for _, g := range in.GlobalSecondaryIndexes {
		if have[aws.ToString(g.IndexName)] {
			continue
		}
		var attrs []types.AttributeDefinition
		for _, k := range g.KeySchema {
			attrs = append(attrs, types.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: defs[aws.ToString(k.AttributeName)]})
		}
		create := &types.CreateGlobalSecondaryIndexAction{
			IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection,
			ProvisionedThroughput: g.ProvisionedThroughput, OnDemandThroughput: g.OnDemandThroughput,
			WarmThroughput: g.WarmThroughput,
		}
		_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:                   in.TableName,
			AttributeDefinitions:        attrs,
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: create}},
		})
		if err != nil && !alreadyDone(err) {
			return fmt.Errorf("creating global secondary index %s: %w", aws.ToString(g.IndexName), err)
		}
		if _, err := waitActive(ctx, client, aws.ToString(in.TableName)); err != nil {
			return err
		}
	}
	return nil
}

// alreadyDone reports an UpdateTable refused because another process made
// the same change meanwhile (or is making it).
func alreadyDone(err error) bool {
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "already exists") || strings.Contains(msg, "already enabled") ||
		strings.Contains(msg, "already has an enabled stream")
}

func enableStream(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput, desc *types.TableDescription) error {
	ws := in.StreamSpecification
	if ws == nil || !aws.ToBool(ws.StreamEnabled) {
		return nil
	}
	if hs := desc.StreamSpecification; hs != nil && aws.ToBool(hs.StreamEnabled) {
		return nil
	}
	_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: in.TableName, StreamSpecification: ws})
	if err != nil && !alreadyDone(err) {
		return fmt.Errorf("eventsource: enabling the stream of table %q: %w", aws.ToString(in.TableName), err)
	}
	if _, err := waitActive(ctx, client, aws.ToString(in.TableName)); err != nil {
		return fmt.Errorf("eventsource: table %q: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

func enableTTL(ctx context.Context, client *dynamodb.Client, name, attr string) error {
	out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("eventsource: describing TTL of table %q: %w", name, err)
	}
	if d := out.TimeToLiveDescription; d != nil {
		current := aws.ToString(d.AttributeName)
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if current == attr {
				return nil
			}
			return fmt.Errorf("%w: table %q: TTL is enabled on %q, the template wants %q (disable TTL on the table first; AWS allows one TTL change per hour)",
				ErrSchemaMismatch, name, current, attr)
		case types.TimeToLiveStatusDisabling:
			return fmt.Errorf("eventsource: table %q: TTL on %q is being disabled; enable it on %q once that is done", name, current, attr)
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
	})
	if err != nil && !alreadyDone(err) {
		return fmt.Errorf("eventsource: enabling TTL on %q of table %q: %w", attr, name, err)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
