package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/eventsource"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestSAMTemplateBehindServe runs the chat end-to-end suite on the
// project's own deploy/sam/template.yaml, as `switchboard serve --template`
// runs it against DynamoDB Local: serve creates the template's table (with
// its TTL and stream), starts the cleanup function's stream event source
// mapping and the fanout function's queue, and runs each function of the
// template from the bootstrap zip its CodeUri names, with the environment
// the template gives it. Nothing of the system is configured by the test:
// the functions post to their CALLBACK_URL, AWS's own host name of the API
// (https://{api}.execute-api.{region}.amazonaws.com/{stage}), which reaches
// serve's TLS port through its CONNECT proxy (HTTPS_PROXY) with the local
// CA trusted through SSL_CERT_FILE; they send large broadcasts to the
// FANOUT_QUEUE_URL the template's !Ref gives, through serve's SQS API
// (AWS_ENDPOINT_URL_SQS); their table is the one serve created
// (AWS_ENDPOINT_URL_DYNAMODB).
//
// The template is used as it is, but for the variant its header documents
// for x86_64 machines ("change both Globals.Function.CodeUri
// (bootstrap-amd64.zip) and Architectures (x86_64)"), applied on amd64
// hosts; on arm64 hosts it is used unchanged. The copy sits two
// directories below a dist/lambda holding the zip built here, as
// scripts/build-lambda builds it, so that the relative CodeUri finds it.
// Parameters go through --parameter-overrides: the JWT secret, a typing
// interval of a minute (the suite's second typingStart must land within
// the first's interval on the real clock, however slow the invocations),
// and FanoutThreshold=1, FanoutBatchSize=2, so that every broadcast to more
// than one connection goes through the fan-out queue and fanout function.
//
// Expiry is the system's own, as on AWS: serve's TTL sweeper deletes the
// expired items (DynamoDB Local 3.3 deletes only those in every GSI of
// their table, which connections and memberships are not), and serve's
// mapping delivers the deletions to the cleanup function as the TTL
// REMOVE records AWS writes. The target's Sweep only waits for that
// (samSweeper); the fan-out queue's Settle asks serve's SQS API, as one
// would ask SQS, whether messages are left.
func TestSAMTemplateBehindServe(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// The template's two documented variants: arm64 as written, x86_64.
	var zipName, architecture string
	switch runtime.GOARCH {
	case "arm64":
		zipName, architecture = "bootstrap-arm64.zip", "arm64"
	case "amd64":
		zipName, architecture = "bootstrap-amd64.zip", "x86_64"
	default:
		t.Skipf("deploy/sam/template.yaml has no variant for %s (arm64 or x86_64)", runtime.GOARCH)
	}
	endpoint := testutil.DynamoDB(t)

	dir := t.TempDir()
	switchboard := buildSAMBinaries(t, dir, zipName)
	tplPath := writeSAMTemplate(t, dir, zipName, architecture)
	built := time.Since(start)

	stack := fmt.Sprintf("sbsam%d", time.Now().UnixNano()%1e12)
	srv := startServe(t, switchboard, tplPath, endpoint, stack)
	db := dynamo.LocalClient(endpoint)
	// The DynamoDB Local may be shared: leave nothing behind (after serve
	// has stopped: its $disconnects write to the table).
	t.Cleanup(func() {
		srv.stop(t)
		if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(srv.table)}); err != nil {
			t.Errorf("deleting table %s: %v", srv.table, err)
		}
	})
	ready := time.Since(start)

	sw := newSAMSweeper(t, db, endpoint, srv.table)
	st := dynamo.New(db, srv.table, dynamo.Options{})
	tg := &chattest.Target{
		URL: srv.url,
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return auth.MintDevToken([]byte(secret), id, ttl, issuedAt)
		},
		Store: st,
		Sweep: sw.Sweep,
		// The fan-out queue is drained: serve's SQS API counts its
		// messages as SQS does.
		Settle: srv.drained,
		// Replies wait for cold starts: a function's first instance
		// starts with its first invocation.
		Timeout: 60 * time.Second,
	}
	chattest.Run(t, func(*testing.T) *chattest.Target { return tg })

	// The suite went through the template's plumbing: expired items
	// were removed, and the cleanup function got their removals as TTL
	// deletions (it acts on no other).
	if sw.total() < 4 {
		t.Errorf("%d removals of expired items seen on the stream, want at least 4 (two sweeps of a connection and a membership)", sw.total())
	}
	logs := srv.stderr.String()
	if !strings.Contains(logs, "expired connection cleaned up") {
		t.Errorf("the cleanup function never cleaned up an expired connection")
	}
	// The functions posted to CALLBACK_URL, AWS's host name of the API,
	// through serve's CONNECT proxy to its TLS port.
	if !regexp.MustCompile(`"msg":"proxy: tunnel","target":"[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com:443"`).MatchString(logs) {
		t.Errorf("no CONNECT tunnel to the API's execute-api host in serve's log")
	}
	// Broadcasts went through the fan-out queue to the fanout function,
	// and none failed for good.
	fanouts := regexp.MustCompile(`"msg":"lambda: invocation","function":"`+stack+`-fanout"[^\n]*"outcome":"ok"`).FindAllStringIndex(logs, -1)
	if len(fanouts) < 10 || strings.Contains(logs, "dead-letter") {
		t.Errorf("%d successful invocations of the fanout function (want 10 or more), dead letters: %v", len(fanouts), strings.Contains(logs, "dead-letter"))
	}
	t.Logf("timing: binaries %v, serve ready %v, suite %v, total %v",
		built.Round(time.Millisecond), (ready - built).Round(time.Millisecond),
		(time.Since(start) - ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// buildSAMBinaries puts the bootstrap zip (dir/dist/lambda/zipName) of
// the shared bootstrap build beside the template, and returns the path of
// the switchboard binary, both for this machine.
func buildSAMBinaries(t *testing.T, dir, zipName string) string {
	t.Helper()
	b := buildBinaries(t)
	if err := zipBootstrap(b.bootstrap, filepath.Join(dir, "dist", "lambda", zipName)); err != nil {
		t.Fatal(err)
	}
	return b.switchboard
}

// zipBootstrap writes the zip Lambda runs, as scripts/build-lambda does:
// the executable alone, as "bootstrap", mode 0755, a fixed time; but
// stored, not deflated (deflating 12 MB under -race cost 3.5 s of CPU on
// this test's critical path; config's TestCodeZip extracts deflated
// entries).
func zipBootstrap(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store, Modified: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeSAMTemplate copies deploy/sam/template.yaml to
// dir/deploy/sam/template.yaml, applying on x86_64 the change its header
// documents, and nothing else.
func writeSAMTemplate(t *testing.T, dir, zipName, architecture string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "deploy", "sam", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	const codeURI, arch = "    CodeUri: ../../dist/lambda/bootstrap-arm64.zip\n", "    Architectures: [arm64]\n"
	// The header comments (before Parameters), their lines joined.
	head, _, _ := strings.Cut(doc, "\nParameters:")
	var header []string
	for _, line := range strings.Split(head, "\n") {
		if c, ok := strings.CutPrefix(line, "#"); ok {
			header = append(header, strings.TrimSpace(c))
		}
	}
	if !strings.Contains(strings.Join(header, " "), "For x86_64, change both Globals.Function.CodeUri (bootstrap-amd64.zip) and Architectures (x86_64)") {
		t.Fatalf("deploy/sam/template.yaml's header no longer documents the x86_64 variant this test applies: %q", header)
	}
	if strings.Count(doc, codeURI) != 1 || strings.Count(doc, arch) != 1 {
		t.Fatalf("deploy/sam/template.yaml: want Globals.Function's %q and %q once each", strings.TrimSpace(codeURI), strings.TrimSpace(arch))
	}
	doc = strings.Replace(doc, codeURI, "    CodeUri: ../../dist/lambda/"+zipName+"\n", 1)
	doc = strings.Replace(doc, arch, "    Architectures: ["+architecture+"]\n", 1)
	path := filepath.Join(dir, "deploy", "sam", "template.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveProcess is `switchboard serve --template` running.
type serveProcess struct {
	cmd            *exec.Cmd
	done           chan struct{} // closed when it exited
	err            error         // its exit, once done
	stdout, stderr *testutil.Buffer
	url, table     string
	queueURL       string      // the fan-out queue's
	sqs            *sqs.Client // serve's SQS API
	once           sync.Once
}

var (
	wsURLLine = regexp.MustCompile(`(?m)^\s*WebSocket:\s+(ws://\S+)$`)
	queueLine = regexp.MustCompile(`(?m)^\s*queue \S+-fanout:\s+(http://\S+) \(SQS API at (http://\S+)\)$`)
	tableLine = regexp.MustCompile(`"msg":"table ready","table":"([^"]+)","resource":"Table"`)
)

// startServe starts serve on the template and waits until it listens,
// with its table made: its URL and the table's physical name are read
// from its output.
func startServe(t *testing.T, bin, tplPath, endpoint, stack string) *serveProcess {
	t.Helper()
	p := &serveProcess{done: make(chan struct{}), stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}}
	p.cmd = exec.Command(bin, "serve", "--template", tplPath,
		"--dynamodb-endpoint", endpoint, "--addr", "127.0.0.1:0", "--stack-name", stack,
		"--parameter-overrides", "JwtSecret="+secret+" TypingInterval=1m FanoutThreshold=1 FanoutBatchSize=2",
		"--log-format", "json", "--log-level", "debug", "--watch=false")
	tmp := t.TempDir()
	p.cmd.Env = append(os.Environ(),
		"SWITCHBOARD_CA_DIR="+filepath.Join(tmp, "ca"), // TLS is on: a CA of this run's own
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),  // where the zip is extracted
		// serve's TTL sweeper deletes expired items within 2 s rather than
		// 10 (internal/cli.EnvTTLSweepInterval): the suite's Sweeps wait for
		// it. (HeartbeatAfterExpiry copes with a sweep that comes between
		// its making a record expired and its heartbeat.)
		"SWITCHBOARD_TTL_SWEEP_INTERVAL=2s",
	)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("serve's stdout:\n%s\nserve's stderr (with the functions' logs):\n%s", p.stdout, p.stderr)
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		if m := wsURLLine.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
		}
		if m := tableLine.FindStringSubmatch(p.stderr.String()); m != nil {
			p.table = m[1]
		}
		if m := queueLine.FindStringSubmatch(p.stdout.String()); m != nil && p.sqs == nil {
			p.queueURL = m[1]
			p.sqs = sqs.New(sqs.Options{Region: region, BaseEndpoint: aws.String(m[2]),
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
		}
		if p.url != "" && p.table != "" && p.sqs != nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited before it was ready: %v", p.err)
		case <-deadline:
			t.Fatal("serve was not ready (its ws:// URL and table) within 60s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// drained waits until serve's fan-out queue has no message left, ready or
// being delivered (what it would ask SQS).
func (p *serveProcess) drained(ctx context.Context) error {
	for {
		out, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.queueURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return fmt.Errorf("the fan-out queue's attributes: %w", err)
		}
		if a := out.Attributes; a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the fan-out queue holds messages: %v: %w", out.Attributes, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop interrupts serve (its clients get 1001, $disconnect runs, its
// functions stop) and waits for it.
func (p *serveProcess) stop(t *testing.T) {
	p.once.Do(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("serve ended with %v after SIGINT, want exit status 0", p.err)
			}
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("serve did not stop within 30s of SIGINT")
		}
	})
}

// samSweeper is the target's Sweep on a table whose expired items are
// deleted without the test, as DynamoDB's TTL deletes them on AWS: here
// by serve's TTL sweeper (DynamoDB Local 3.3 deletes expired items itself
// only in tables without global secondary indexes, and this one has two).
// It deletes nothing itself. It reads the table's stream as a second
// consumer beside serve's mapping (with the same eventsource code, which
// mends DynamoDB Local's records), counting the REMOVE records of items
// that were expired when removed.
//
// Sweep waits until no item of the table is expired now (by expiresAt,
// the TTL attribute, in epoch seconds), then until the stream has been
// read past those deletions (a marker item written afterwards has come
// through), and returns how many expired items the stream saw removed
// since the previous Sweep. Serve's mapping marks its sweeper's deletions
// as TTL's (userIdentity Service) only for the functions serve invokes:
// a reader in another process cannot tell them from the application's,
// so a handler's deletion of an item already expired counts too. That the
// cleanup function got them as TTL deletions shows in what it announces,
// which the suite waits for.
type samSweeper struct {
	t     *testing.T
	db    *dynamodb.Client
	table string

	mu      sync.Mutex
	seen    map[string]chan struct{} // marker PKs awaited
	removed int                      // expired items removed since the last Sweep
	ever    int
}

const sweepMarkerPrefix = "SAMTEST#marker#"

func newSAMSweeper(t *testing.T, db *dynamodb.Client, endpoint, table string) *samSweeper {
	t.Helper()
	s := &samSweeper{t: t, db: db, table: table, seen: map[string]chan struct{}{}}
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
	m, err := eventsource.NewDynamoDBStream(eventsource.DynamoDBStreamOptions{
		Streams: streams, DynamoDB: db, TableName: table,
		Function: eventsource.Handler(s.records), FunctionName: "test-observer",
		StartingPosition: eventsource.Latest, Region: region,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatalf("reading the stream of %s: %v", table, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return s
}

// records is the observer's function.
func (s *samSweeper) records(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().Unix()
	for _, r := range ev.Records {
		switch r.EventName {
		case "REMOVE":
			if u := r.UserIdentity; u != nil && u.Type == "Service" && u.PrincipalID == "dynamodb.amazonaws.com" {
				// DynamoDB Local's own TTL deletion: as AWS writes it?
				payload, _ := json.Marshal(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{r}})
				if err := checkStreamEvent(payload); err != nil {
					s.t.Errorf("TTL deletion on the stream: %s: %v", payload, err)
				}
			} else if exp, ok := r.Change.OldImage[dynamo.TTLAttribute]; !ok || exp.DataType() != events.DataTypeNumber {
				continue
			} else if n, err := strconv.ParseInt(exp.Number(), 10, 64); err != nil || n >= now {
				continue
			}
			s.removed++
			s.ever++
		case "INSERT":
			if pk, ok := r.Change.Keys["PK"]; ok {
				if ch := s.seen[pk.String()]; ch != nil {
					close(ch)
					delete(s.seen, pk.String())
				}
			}
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func (s *samSweeper) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ever
}

// Sweep implements chattest.Target.Sweep.
func (s *samSweeper) Sweep(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := time.Now().Unix()
	// The items expired now are gone: DynamoDB deleted them.
	for {
		n, err := s.countExpired(ctx, now)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d items expired before %d are still in %s: %w", n, now, s.table, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The stream has been read past their deletions.
	pk := sweepMarkerPrefix + strconv.FormatInt(time.Now().UnixNano(), 36)
	arrived := make(chan struct{})
	s.mu.Lock()
	s.seen[pk] = arrived
	s.mu.Unlock()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "MARKER"}}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: key}); err != nil {
		return 0, fmt.Errorf("writing the stream marker: %w", err)
	}
	defer s.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key})
	select {
	case <-arrived:
	case <-ctx.Done():
		return 0, fmt.Errorf("the stream marker %s did not come through the stream: %w", pk, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.removed
	s.removed = 0
	return n, nil
}

// countExpired counts the table's items whose TTL attribute is before
// now (epoch seconds).
func (s *samSweeper) countExpired(ctx context.Context, now int64) (int, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		Select:                    types.SelectCount,
		FilterExpression:          aws.String("#ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": dynamo.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)}},
		ConsistentRead:            aws.Bool(true),
	}
	total := 0
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("scanning %s for expired items: %w", s.table, err)
		}
		total += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return total, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
