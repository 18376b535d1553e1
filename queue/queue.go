// Package queue carries fan-out work to a consumer with Amazon SQS's
// semantics: on AWS an SQS queue whose event source mapping invokes a
// Lambda function (SQS), locally an in-process queue that invokes the same
// handler with the same events.SQSEvent (Local). Delivery is at least once:
// a message whose processing fails is delivered again, up to a maximum
// number of receives, and then moved to a dead-letter queue; it is never
// silently dropped.
package queue

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
)

// Limits of SQS that both implementations enforce, so that what works
// locally works on AWS.
const (
	MaxMessageBytes = 256 << 10 // one message body
	MaxBatchEntries = 10        // messages per SendMessageBatch
	MaxBatchBytes   = 256 << 10 // all bodies of one SendMessageBatch
)

// Sender enqueues message bodies. Both Local and SQS implement it.
type Sender interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// Handler is what the queue invokes: a Lambda function for an SQS event
// source mapping with ReportBatchItemFailures. A returned error fails
// every record of the event; otherwise the records named in
// BatchItemFailures failed and the others succeeded.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

var (
	// ErrTooLarge: a body over MaxMessageBytes.
	ErrTooLarge = errors.New("queue: message body over 256 KiB")
	// ErrEmpty: SQS refuses empty bodies.
	ErrEmpty = errors.New("queue: empty message body")
	// ErrClosed: Send on a closed Local queue.
	ErrClosed = errors.New("queue: closed")
)

func check(body []byte) error {
	switch {
	case len(body) == 0:
		return ErrEmpty
	case len(body) > MaxMessageBytes:
		return ErrTooLarge
	}
	return nil
}

// chunks splits bodies into SendMessageBatch calls: at most MaxBatchEntries
// entries and MaxBatchBytes bytes each.
func chunks(bodies [][]byte) [][][]byte {
	var out [][][]byte
	var cur [][]byte
	size := 0
	for _, b := range bodies {
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && size+len(b) > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, b)
		size += len(b)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
