package devstack

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// sweep deletes expired items and passes them to cleanup as the REMOVE
// records DynamoDB Streams carries for TTL deletions.
func sweep(ctx context.Context, sw store.Sweeper, now time.Time, region string, cleanup func(context.Context, events.DynamoDBEvent) error) (int, error) {
	total := 0
	for {
		imgs, err := sw.DeleteExpired(ctx, now, 100)
		if err != nil || len(imgs) == 0 {
			return total, err
		}
		total += len(imgs)
		if err := cleanupImages(ctx, imgs, now, region, cleanup, false); err != nil {
			return total, err
		}
	}
}

func removeRecord(img store.Image, now time.Time, region string, i int) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{
		AWSRegion:      region,
		EventID:        store.NewID(now),
		EventName:      "REMOVE",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:" + region + ":000000000000:table/switchboard/stream/local",
		UserIdentity:   &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: now.Truncate(time.Second)},
			Keys:                        map[string]events.DynamoDBAttributeValue{"PK": img["PK"], "SK": img["SK"]},
			OldImage:                    img,
			SequenceNumber:              strconv.FormatInt(now.UnixNano()+int64(i), 10),
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
}
