package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TTLAttribute is the table's TTL attribute: epoch seconds.
const TTLAttribute = attrExpiresAt

// TableSchema is the table the store needs, as a CreateTable request
// (Terraform and SAM templates mirror it; docs/store.md describes it):
//
//   - key: PK (S, HASH), SK (S, RANGE)
//   - GSI1: GSI1PK (S, HASH), GSI1SK (S, RANGE), projection ALL
//   - GSI2: GSI2PK (S, HASH), GSI2SK (S, RANGE), projection ALL
//   - billing PAY_PER_REQUEST
//   - stream NEW_AND_OLD_IMAGES (the cleanup handler reads TTL deletions)
//
// and, set apart by UpdateTimeToLive, TTL on TTLAttribute ("expiresAt").
func TableSchema(table string) *dynamodb.CreateTableInput {
	s := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	gsi := func(name, hash, rng string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  keys(hash, rng),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			s(attrPK), s(attrSK), s(attrGSI1PK), s(attrGSI1SK), s(attrGSI2PK), s(attrGSI2SK),
		},
		KeySchema: keys(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(GSI1, attrGSI1PK, attrGSI1SK),
			gsi(GSI2, attrGSI2PK, attrGSI2SK),
		},
		BillingMode: types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}

// CreateTable creates the table of TableSchema, waits until it and its
// indexes are active, and enables TTL on expiresAt. It is for DynamoDB
// Local, tests and first-time setup; deployments create the table from
// their templates.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if _, err := client.CreateTable(ctx, TableSchema(table)); err != nil {
		return fmt.Errorf("dynamo: create table %q: %w", table, err)
	}
	if err := waitActive(ctx, client, table); err != nil {
		return fmt.Errorf("dynamo: create table %q: %w", table, err)
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamo: enable TTL on table %q: %w", table, err)
	}
	return nil
}

// waitActive polls DescribeTable until the table and its indexes are
// ACTIVE (at once on DynamoDB Local; the SDK's waiter would first sleep
// 20 s).
func waitActive(ctx context.Context, client *dynamodb.Client, table string) error {
	delay := 20 * time.Millisecond
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return err
		}
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			active := true
			for _, g := range out.Table.GlobalSecondaryIndexes {
				active = active && g.IndexStatus == types.IndexStatusActive
			}
			if active {
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}
