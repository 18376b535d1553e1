package config_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/queue"
)

// TestQueues: a queue from the config file takes messages through its SQS
// API (the real SDK client) and hands them to its consumer as SQS events;
// a record the consumer reports failed comes again.
func TestQueues(t *testing.T) {
	var mu sync.Mutex
	receives := map[string][]string{}
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.SQSEvent
		json.NewDecoder(r.Body).Decode(&ev)
		var resp events.SQSEventResponse
		mu.Lock()
		for _, rec := range ev.Records {
			n := rec.Attributes["ApproximateReceiveCount"]
			receives[rec.Body] = append(receives[rec.Body], n)
			if rec.Body == "flaky" && n == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
		}
		mu.Unlock()
		json.NewEncoder(w).Encode(resp)
	}))
	defer consumer.Close()
	doc := "stage: dev\nrouteSelectionExpression: $request.body.action\nqueues:\n  fanout:\n    retryDelay: 10ms\n    batchSize: 5\n    integration: {type: http, url: " + consumer.URL + "}\n"
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rt := build(t, f, config.BuildEnv{})
	api := rt.QueueAPI(slog.New(slog.NewTextHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	mux.Handle(queue.APIPath, api)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL + queue.APIPath),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	url := queue.QueueURL(srv.URL, "fanout")
	if err := queue.NewSQS(client, url).Send(context.Background(), [][]byte{[]byte("steady"), []byte("flaky")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Queue("fanout").Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(receives["steady"], ","); got != "1" {
		t.Fatalf("steady received %s", got)
	}
	if got := strings.Join(receives["flaky"], ","); got != "1,2" {
		t.Fatalf("flaky received %s, want 1,2", got)
	}
}
