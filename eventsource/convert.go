package eventsource

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Identity of DynamoDB's Time to Live process in stream records, as AWS
// writes it in Records[].userIdentity of a TTL deletion.
const (
	TTLIdentityType        = "Service"
	TTLIdentityPrincipalID = "dynamodb.amazonaws.com"
)

// localTTLEventName is the eventName DynamoDB Local 3.x writes in the stream
// records of its own TTL deletions (found by trying it: the literal text,
// with no userIdentity), where AWS writes "REMOVE" and the Service identity.
const localTTLEventName = "UNKNOWN_TO_SDK_VERSION"

// Lambda's values for a DynamoDB stream record.
const (
	eventSourceDynamoDB = "aws:dynamodb"
	eventVersion        = "1.1"
)

func ttlIdentity() *events.DynamoDBUserIdentity {
	return &events.DynamoDBUserIdentity{Type: TTLIdentityType, PrincipalID: TTLIdentityPrincipalID}
}

// fromStream converts an attribute value of the DynamoDB Streams API to
// the shape Lambda's event carries ({"S": ...}, {"B": base64}, ...).
func fromStream(v streamtypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(nonNilBytes(v.Value)), nil
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(nonNil(v.Value)), nil
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(nonNil(v.Value)), nil
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(nonNil(v.Value)), nil
	case *streamtypes.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			c, err := fromStream(e)
			if err != nil {
				return c, err
			}
			list[i] = c
		}
		return events.NewListAttribute(list), nil
	case *streamtypes.AttributeValueMemberM:
		m, err := fromStreamMap(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	case nil:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("missing attribute value")
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value type %T", v)
	}
}

// fromStreamMap converts an image or a key; nil stays nil (the field is
// then absent from the event, as in Lambda's).
func fromStreamMap(m map[string]streamtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		c, err := fromStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

// fromTable converts an attribute value of the DynamoDB API (what the TTL
// sweeper reads and deletes) to the event's shape.
func fromTable(v ddbtypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(nonNilBytes(v.Value)), nil
	case *ddbtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *ddbtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(nonNil(v.Value)), nil
	case *ddbtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(nonNil(v.Value)), nil
	case *ddbtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(nonNil(v.Value)), nil
	case *ddbtypes.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			c, err := fromTable(e)
			if err != nil {
				return c, err
			}
			list[i] = c
		}
		return events.NewListAttribute(list), nil
	case *ddbtypes.AttributeValueMemberM:
		m, err := fromTableMap(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	case nil:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("missing attribute value")
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value type %T", v)
	}
}

func fromTableMap(m map[string]ddbtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		c, err := fromTable(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

// canonical is a comparable text of an image or a key: its JSON, whose map
// keys encoding/json sorts.
func canonical(m map[string]events.DynamoDBAttributeValue) string {
	if m == nil {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// nonNil keeps empty lists as [] rather than null in the event.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// convertRecord builds the Lambda event record of a stream record.
// Records of DynamoDB Local's own TTL deletions become what AWS writes for
// a TTL deletion: REMOVE with the Service identity.
func convertRecord(r streamtypes.Record, streamARN, region string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if region != "" {
		out.AWSRegion = region
	}
	if out.EventSource == "" {
		out.EventSource = eventSourceDynamoDB
	}
	if out.EventVersion == "" {
		out.EventVersion = eventVersion
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{
			Type:        aws.ToString(r.UserIdentity.Type),
			PrincipalID: aws.ToString(r.UserIdentity.PrincipalId),
		}
	}
	if out.EventName == localTTLEventName {
		out.EventName = string(events.DynamoDBOperationTypeRemove)
		out.UserIdentity = ttlIdentity()
	}
	if d := r.Dynamodb; d != nil {
		var err error
		if out.Change.Keys, err = fromStreamMap(d.Keys); err != nil {
			return out, fmt.Errorf("Keys: %w", err)
		}
		if out.Change.NewImage, err = fromStreamMap(d.NewImage); err != nil {
			return out, fmt.Errorf("NewImage: %w", err)
		}
		if out.Change.OldImage, err = fromStreamMap(d.OldImage); err != nil {
			return out, fmt.Errorf("OldImage: %w", err)
		}
		created := time.Now()
		if d.ApproximateCreationDateTime != nil {
			created = *d.ApproximateCreationDateTime
		}
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: created}
		out.Change.SequenceNumber = aws.ToString(d.SequenceNumber)
		out.Change.SizeBytes = aws.ToInt64(d.SizeBytes)
		out.Change.StreamViewType = string(d.StreamViewType)
	}
	return out, nil
}
