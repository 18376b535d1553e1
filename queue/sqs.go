package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the one call SQS makes (IAM action sqs:SendMessage).
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// SQS sends to an Amazon SQS queue (or anything that speaks its API).
type SQS struct {
	client SQSAPI
	url    string
	// Attempts bounds how often entries SQS reports as failed for its own
	// reasons (not the sender's) are sent again (default 3).
	Attempts int
}

var _ Sender = (*SQS)(nil)

// NewSQS returns a Sender for the queue at url.
func NewSQS(client SQSAPI, url string) *SQS { return &SQS{client: client, url: url} }

// Send implements Sender with SendMessageBatch calls of at most
// MaxBatchEntries entries and MaxBatchBytes bytes. It returns nil only if
// every body was accepted.
func (q *SQS) Send(ctx context.Context, bodies [][]byte) error {
	for _, b := range bodies {
		if err := check(b); err != nil {
			return err
		}
	}
	attempts := q.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	for _, chunk := range chunks(bodies) {
		if err := q.sendChunk(ctx, chunk, attempts); err != nil {
			return err
		}
	}
	return nil
}

func (q *SQS) sendChunk(ctx context.Context, chunk [][]byte, attempts int) error {
	pending := make(map[string][]byte, len(chunk))
	for i, b := range chunk {
		pending[strconv.Itoa(i)] = b
	}
	for attempt := 1; ; attempt++ {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url)}
		for id, b := range pending {
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(b))})
		}
		out, err := q.client.SendMessageBatch(ctx, in)
		if err != nil {
			return fmt.Errorf("queue: SendMessageBatch to %s: %w", q.url, err)
		}
		for _, s := range out.Successful {
			delete(pending, aws.ToString(s.Id))
		}
		if len(pending) == 0 {
			return nil
		}
		var errs []error
		retry := attempt < attempts
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
			retry = retry && !f.SenderFault
		}
		if !retry {
			return fmt.Errorf("queue: SendMessageBatch to %s: %d of %d entries failed: %w", q.url, len(pending), len(chunk), errors.Join(errs...))
		}
	}
}
