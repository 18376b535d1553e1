package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// TestBootstrapBehindGateway runs the chat end-to-end suite on the
// deployable artifact: the gateway, from a config file, drives the built
// bootstrap through the Lambda Runtime API (a function per route and for
// the authorizer), the handlers keep their state in DynamoDB Local and
// push through the gateway's @connections API with the AWS SDK; every
// broadcast to more than one connection goes through the fan-out queue
// (the gateway's local SQS API) to the fanout function, as through SQS on
// AWS.
//
// What the deployed system does by itself on AWS, the test does: the
// table's TTL and its stream are the target's Sweep, which deletes the
// expired items (store/dynamo's DeleteExpired) and invokes the cleanup
// function, through the same Lambda integration, with the DynamoDB Streams
// event Lambda's event source mapping would deliver. The system runs on
// the real clock: the suite makes records expired instead of moving time.
func TestBootstrapBehindGateway(t *testing.T) {
	t.Parallel()
	endpoint := testutil.DynamoDB(t)
	tg, fanout := startBootstrap(t, endpoint)
	// One system for the whole suite: its tests keep to tenants of their own.
	chattest.Run(t, func(*testing.T) *chattest.Target { return tg })
	// The suite's last disconnects may still be running (and fanning out
	// their user_left) when it returns: wait until the queue is drained
	// and every message it was sent is done, judging on one snapshot.
	fctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var s queue.Stats
	chattest.Eventually(t, 60*time.Second, func() bool {
		if err := fanout.Flush(fctx); err != nil {
			return false
		}
		s = fanout.Stats()
		return s.Pending == 0 && s.Deleted+s.DeadLettered == s.Sent
	}, "the fan-out queue drains")
	t.Logf("fan-out queue: %+v", s)
	// The broadcasts went through the queue and the fanout function, and
	// none failed for good.
	if s.Sent < 20 || s.DeadLettered != 0 {
		t.Fatalf("fan-out queue: %+v: want every broadcast through it, handled", s)
	}
}

const (
	region = "us-east-1"
	secret = "an-hs256-secret-of-at-least-32-bytes!"
)

// startBootstrap builds the bootstrap and serves the gateway driving it.
func startBootstrap(t *testing.T, endpoint string) (*chattest.Target, *queue.Local) {
	t.Helper()
	ctx := context.Background()
	logs := captureLogs(t)
	table := fmt.Sprintf("bootstrap-e2e-%d", time.Now().UnixNano())
	db := dynamo.LocalClient(endpoint)
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	// The DynamoDB Local may be shared: leave nothing behind.
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })

	bin := buildBinaries(t).bootstrap
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TABLE_NAME": table, "DYNAMODB_ENDPOINT": endpoint, "CALLBACK_URL": "http://" + ln.Addr().String() + "/dev",
		"JWT_SECRET": secret, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
		// The suite's second typingStart must land within the interval of
		// the first; on the real clock, a minute makes that independent
		// of how long the invocations take.
		"TYPING_INTERVAL": "1m",
		// Every broadcast to more than one connection goes through the
		// fan-out queue, in batches of two: the message function sends
		// them with the AWS SDK to the gateway's SQS API, and the queue
		// invokes the fanout function with the SQS event.
		"FANOUT_QUEUE_URL":  queue.QueueURL("http://"+ln.Addr().String(), "fanout"),
		"SQS_ENDPOINT":      "http://" + ln.Addr().String() + queue.APIPath,
		"FANOUT_THRESHOLD":  "1",
		"FANOUT_BATCH_SIZE": "2",
	}
	envYAML, _ := json.Marshal(env) // JSON is YAML
	fn := func(handler string) string {
		return fmt.Sprintf("{type: lambda, path: %s, handler: %s, timeout: 20s, concurrency: 2, environment: %s}", bin, handler, envYAML)
	}
	var routes strings.Builder
	for _, a := range chat.Actions() {
		fmt.Fprintf(&routes, "  %s: {integration: %s}\n", a, fn("message"))
	}
	doc := fmt.Sprintf(`stage: dev
routeSelectionExpression: $request.body.action
routes:
  $connect: {integration: %s}
  $disconnect: {integration: %s}
  $default: {integration: %s}
%sauthorizer:
  identitySources: [route.request.querystring.token]
  integration: %s
queues:
  fanout: {retryDelay: 100ms, integration: %s}
`, fn("connect"), fn("disconnect"), fn("message"), routes.String(), fn("authorizer"), fn("fanout"))
	file, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := file.Build(ctx, config.BuildEnv{})
	if err != nil {
		t.Fatal(err)
	}
	opts := rt.GatewayOptions()
	opts.Logger = logs
	gw, err := gateway.New(opts)
	if err != nil {
		rt.Close(ctx)
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(queue.APIPath, rt.QueueAPI(logs))
	mux.Handle("/", gw)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)

	// The cleanup function, built as config builds a `type: lambda`
	// integration (config has no place for a stream consumer).
	cleanup, err := lambda.New(lambda.Options{Path: bin, Handler: "cleanup", Env: env, Timeout: 20 * time.Second, Concurrency: 1, Logger: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		srv.Close()
		rt.Close(ctx)
		cleanup.Close(ctx)
	})

	st := dynamo.New(db, table, dynamo.Options{})
	return &chattest.Target{
		URL: "ws://" + ln.Addr().String() + "/dev",
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return auth.MintDevToken([]byte(secret), id, ttl, issuedAt)
		},
		Store: st,
		Sweep: func(ctx context.Context) (int, error) {
			return devstack.SweepExpired(ctx, st, time.Now(), region, func(ctx context.Context, ev events.DynamoDBEvent) error {
				payload, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				if err := checkStreamEvent(payload); err != nil {
					t.Errorf("stream event %s: %v", payload, err)
				}
				_, err = cleanup.Invoke(ctx, payload)
				return err // a *integration.FunctionError: Lambda would retry the batch
			})
		},
		Settle: rt.Queue("fanout").Flush,
		// Replies wait for cold starts: a function's first instance starts
		// with its first invocation.
		Timeout: 60 * time.Second,
	}, rt.Queue("fanout")
}

// checkStreamEvent checks payload has the shape of the event Lambda's
// DynamoDB event source mapping delivers for a TTL deletion.
func checkStreamEvent(payload []byte) error {
	var ev struct {
		Records []struct {
			EventID, EventName, EventVersion, EventSource, AWSRegion, EventSourceARN string
			UserIdentity                                                             struct{ Type, PrincipalID string }
			DynamoDB                                                                 struct {
				ApproximateCreationDateTime float64
				Keys, OldImage              map[string]map[string]any
				SequenceNumber              string
				StreamViewType              string
			} `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	if len(ev.Records) == 0 {
		return fmt.Errorf("no Records")
	}
	for _, r := range ev.Records {
		d := r.DynamoDB
		switch {
		case r.EventID == "" || r.EventName != "REMOVE" || r.EventVersion != "1.1" || r.EventSource != "aws:dynamodb" || r.AWSRegion != region:
			return fmt.Errorf("record header %+v", r)
		case !strings.HasPrefix(r.EventSourceARN, "arn:aws:dynamodb:"+region+":") || !strings.Contains(r.EventSourceARN, "/stream/"):
			return fmt.Errorf("eventSourceARN %q", r.EventSourceARN)
		case r.UserIdentity.Type != "Service" || r.UserIdentity.PrincipalID != "dynamodb.amazonaws.com":
			return fmt.Errorf("userIdentity %+v: not a TTL deletion", r.UserIdentity)
		case d.ApproximateCreationDateTime <= 0 || d.SequenceNumber == "" || d.StreamViewType != "NEW_AND_OLD_IMAGES":
			return fmt.Errorf("dynamodb %+v", d)
		case len(d.Keys) != 2 || d.Keys["PK"]["S"] == nil || d.Keys["SK"]["S"] == nil || d.OldImage["PK"]["S"] == nil:
			return fmt.Errorf("keys %v, old image %v", d.Keys, d.OldImage)
		}
	}
	return nil
}

// captureLogs returns a logger for the gateway and the functions' output,
// shown only when the test fails. It is also slog's default meanwhile:
// the functions config starts log there.
func captureLogs(t *testing.T) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() {
		slog.SetDefault(old)
		if t.Failed() {
			mu.Lock()
			t.Logf("gateway and function logs:\n%s", buf.String())
			mu.Unlock()
		}
	})
	return log
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
