package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/internal/logctx"
	"github.com/switchboard-ws/switchboard/queue"
)

// Queue adapts an Invoker to a queue consumer: the function gets the
// events.SQSEvent an SQS event source mapping sends and answers with an
// events.SQSEventResponse (ReportBatchItemFailures); an empty or null
// answer means every record succeeded, and an error reported by the
// function fails them all.
func Queue(inv Invoker) queue.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		payload, err := json.Marshal(ev)
		if err != nil {
			return resp, fmt.Errorf("encoding SQS event: %w", err)
		}
		if len(ev.Records) > 0 {
			ctx = logctx.With(ctx, slog.String("eventSource", ev.Records[0].EventSourceARN), slog.Int("records", len(ev.Records)))
		}
		out, err := inv.Invoke(ctx, payload)
		if err != nil {
			return resp, err
		}
		if b := trimSpace(out); len(b) == 0 || string(b) == "null" {
			return resp, nil
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			return resp, fmt.Errorf("malformed SQS event response: %w", err)
		}
		return resp, nil
	}
}
