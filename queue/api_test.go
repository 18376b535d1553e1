package queue_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/switchboard-ws/switchboard/queue"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// sqsClient is the real AWS SDK client pointed at the local API.
func sqsClient(endpoint, key, secret string, header http.Header) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			for k, v := range header {
				r.Header[k] = v
			}
			return http.DefaultTransport.RoundTrip(r)
		})},
		RetryMaxAttempts: 1,
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func startAPI(t *testing.T, verifier *sigv4.Verifier) (string, *recorder, *queue.Local) {
	t.Helper()
	r := &recorder{}
	q := queue.NewLocal(r.handle, queue.LocalOptions{Logger: quiet})
	t.Cleanup(func() { q.Close(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle(queue.APIPath+"/", &queue.API{Queues: map[string]*queue.Local{"fanout": q}, Verifier: verifier, Logger: quiet})
	mux.Handle(queue.APIPath, &queue.API{Queues: map[string]*queue.Local{"fanout": q}, Verifier: verifier, Logger: quiet})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, r, q
}

func TestAPIWithTheSDK(t *testing.T) {
	t.Parallel()
	base, r, q := startAPI(t, nil)
	client := sqsClient(base+queue.APIPath, "local", "local", nil)
	ctx := context.Background()
	url := queue.QueueURL(base, "fanout")

	got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("fanout")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl: %v %v, want %s", got, err, url)
	}
	// queue.SQS (what the bootstrap uses) over SendMessageBatch: 23 bodies
	// take 3 calls of at most 10.
	if err := queue.NewSQS(client, url).Send(ctx, bodies(23)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("single")}); err != nil {
		t.Fatalf("SendMessage: %v", err) // the SDK checks MD5OfMessageBody
	}
	flush(t, q)
	if n := len(r.received()); n != 24 {
		t.Fatalf("%d bodies delivered, want 24", n)
	}

	var missing *types.QueueDoesNotExist
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue.QueueURL(base, "nope")), MessageBody: aws.String("x")})
	if !errors.As(err, &missing) {
		t.Fatalf("unknown queue: %v, want QueueDoesNotExist", err)
	}
	_, err = client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("x")}, {Id: aws.String("a"), MessageBody: aws.String("y")},
	}})
	var dup *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &dup) {
		t.Fatalf("duplicate ids: %v", err)
	}
	out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("ok"), MessageBody: aws.String("fine")}, {Id: aws.String("big"), MessageBody: aws.String(strings.Repeat("x", queue.MaxMessageBytes-10))},
		{Id: aws.String("empty"), MessageBody: aws.String("")},
	}})
	if err != nil || len(out.Successful) != 2 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "empty" || !out.Failed[0].SenderFault {
		t.Fatalf("mixed batch: %+v %v", out, err)
	}
}

func TestAPIKeepsStrangersOut(t *testing.T) {
	t.Parallel()
	base, _, _ := startAPI(t, nil)
	ctx := context.Background()
	proxied := sqsClient(base+queue.APIPath, "local", "local", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
	_, err := proxied.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue.QueueURL(base, "fanout")), MessageBody: aws.String("x")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("request through a proxy: %v, want AccessDenied", err)
	}

	base, _, q := startAPI(t, &sigv4.Verifier{Credentials: sigv4.Credentials{"AKIDQUEUE": "queue-secret"}, Service: "sqs"})
	url := queue.QueueURL(base, "fanout")
	good := sqsClient(base+queue.APIPath, "AKIDQUEUE", "queue-secret", nil)
	if _, err := good.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("signed")}); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	bad := sqsClient(base+queue.APIPath, "AKIDQUEUE", "wrong", nil)
	if _, err := bad.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("forged")}); err == nil {
		t.Fatal("a badly signed request was accepted")
	}
	if s := q.Stats(); s.Sent != 1 {
		t.Fatalf("%d messages accepted, want only the signed one", s.Sent)
	}
}
