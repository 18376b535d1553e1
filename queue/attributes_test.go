package queue_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// TestAPIQueueAttributes: GetQueueAttributes, with the SDK, counts the
// messages ready and those being delivered, so that a client can wait
// until the queue is drained as it would on SQS.
func TestAPIQueueAttributes(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	q := queue.NewLocal(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return events.SQSEventResponse{}, nil
	}, queue.LocalOptions{Name: "fanout", BatchSize: 1, Concurrency: 1, Logger: quiet})
	t.Cleanup(func() { q.Close(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle(queue.APIPath, &queue.API{Queues: map[string]*queue.Local{"fanout": q}, Logger: quiet})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := sqsClient(srv.URL+queue.APIPath, "local", "local", nil)
	ctx := context.Background()
	url := queue.QueueURL(srv.URL, "fanout")

	counts := func(names ...types.QueueAttributeName) map[string]string {
		t.Helper()
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
		if err != nil {
			t.Fatalf("GetQueueAttributes: %v", err)
		}
		return out.Attributes
	}
	const visible, notVisible = "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
	all := counts(types.QueueAttributeNameAll)
	if all[visible] != "0" || all[notVisible] != "0" || all["ApproximateNumberOfMessagesDelayed"] != "0" ||
		all["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:fanout" {
		t.Fatalf("an empty queue's attributes: %v", all)
	}
	if err := q.Send(ctx, bodies(3)); err != nil {
		t.Fatal(err)
	}
	<-started // one message in flight, two waiting
	var got map[string]string
	if !testutil.Poll(10*time.Second, func() bool {
		got = counts(types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
		return got[visible] == "2" && got[notVisible] == "1" && len(got) == 2
	}) {
		t.Fatalf("with one of three messages in flight: %v", got)
	}
	close(release)
	flush(t, q)
	if got := counts(types.QueueAttributeNameAll); got[visible] != "0" || got[notVisible] != "0" {
		t.Fatalf("a drained queue's attributes: %v", got)
	}
}
