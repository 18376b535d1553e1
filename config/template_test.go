package config_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/config/cfn"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// echoBootstrap returns the echo Lambda function of package lambda's tests
// (a Go provided.al2023 function), linked once for the suite.
func echoBootstrap(t *testing.T) string {
	t.Helper()
	return testutil.GoBinary(t, testutil.Build{Pkg: "../integration/lambda/testdata/echo", Env: []string{"CGO_ENABLED=0"}})
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// samGo copies the sam-go fixture next to a build/bootstrap of the echo
// function and returns the template's path.
func samGo(t *testing.T) string {
	t.Helper()
	bin := echoBootstrap(t)
	dir := filepath.Join(t.TempDir(), "chat-app")
	copyFile(t, "testdata/templates/sam-go/template.yaml", filepath.Join(dir, "template.yaml"), 0o644)
	copyFile(t, bin, filepath.Join(dir, "build", "bootstrap"), 0o755)
	return filepath.Join(dir, "template.yaml")
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestTemplateServesItsAPI: a SAM template with a Go function runs as a
// WebSocket API — a client connects to the template's stage and the
// two-way route answers through the function — with the names, queue URL
// and endpoint a local run gives.
func TestTemplateServesItsAPI(t *testing.T) {
	t.Parallel()
	path := samGo(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	tpl, err := config.LoadTemplate(path, config.TemplateOptions{GatewayURL: base, Parameters: map[string]string{"Color": "green"}})
	if err != nil {
		t.Fatal(err)
	}
	f := tpl.File
	rt := build(t, f, config.BuildEnv{Logger: quiet})
	opts := rt.GatewayOptions()
	if tpl.StackName != "chat-app" || opts.Stage != "local" || opts.StageVariables["color"] != "green" || !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(opts.APIID) {
		t.Fatalf("stack %s stage %s variables %v api %s", tpl.StackName, opts.Stage, opts.StageVariables, opts.APIID)
	}
	if !opts.Routes["echo"].RouteResponse || opts.Routes["$default"].RouteResponse || len(opts.Routes) != 3 {
		t.Fatalf("routes %+v", opts.Routes)
	}
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", gw)
	mux.Handle(queue.APIPath+"/", rt.QueueAPI(quiet))
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/local", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"echo","n":1}`)); err != nil {
		t.Fatal(err)
	}
	_, reply, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != `lambda echo: {"action":"echo","n":1}` {
		t.Fatalf("reply %q", reply)
	}

	// The function's environment: its name, and the template's values
	// resolved for this run — the local queue URL, the table's name, the
	// endpoint.
	inv, err := rt.Invoker(f.Routes["echo"].Integration)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := inv.Invoke(ctx, []byte(`{"op":"info"}`))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Env map[string]string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	jobs := tpl.Stack.Queues[0]
	env := info.Env
	if env["AWS_LAMBDA_FUNCTION_NAME"] != "chat-app-echo" || env["_HANDLER"] != "echo" || env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "256" ||
		env["QUEUE_URL"] != queue.QueueURL(base, jobs.Name) || env["API_ENDPOINT"] != "ws"+strings.TrimPrefix(base, "http") ||
		!regexp.MustCompile(`^chat-app-Connections-[A-Z0-9]{13}$`).MatchString(env["TABLE_NAME"]) {
		t.Fatalf("environment %v", env)
	}
	// The same template and stack name give the same names on every load.
	again, err := config.LoadTemplate(path, config.TemplateOptions{GatewayURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if *again.Tables[0].Create.TableName != env["TABLE_NAME"] || again.File.APIID != opts.APIID {
		t.Fatalf("names changed: %s %s", *again.Tables[0].Create.TableName, again.File.APIID)
	}
}

// TestTemplateQueues: an SQS event source becomes a local queue that its
// function consumes, with the queue's redrive policy and visibility
// timeout; a queue nobody consumes is a warning.
func TestTemplateQueues(t *testing.T) {
	t.Parallel()
	tpl, err := config.LoadTemplate(samGo(t), config.TemplateOptions{StackName: "s1", GatewayURL: "http://127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	var jobs, dead string
	for _, q := range tpl.Stack.Queues {
		switch q.LogicalID {
		case "Jobs":
			jobs = q.Name
		case "JobsDeadLetters":
			dead = q.Name
		}
	}
	q, ok := tpl.File.Queues[jobs]
	if !ok || len(tpl.File.Queues) != 1 {
		t.Fatalf("queues %+v", tpl.File.Queues)
	}
	if q.BatchSize != 5 || q.MaxReceiveCount != 2 || q.RetryDelay != "2s" || q.Integration.Handler != "jobs" ||
		!strings.HasPrefix(q.Integration.FunctionName, "s1-JobsFunction-") {
		t.Fatalf("queue %+v", q)
	}
	if build(t, tpl.File, config.BuildEnv{}).Queue(jobs) == nil {
		t.Fatal("queue not built")
	}
	if !slices.ContainsFunc(tpl.Warnings, func(w string) bool {
		return strings.Contains(w, "JobsDeadLetters: no function consumes queue "+dead)
	}) {
		t.Fatalf("warnings %q", tpl.Warnings)
	}
	if !slices.Contains(tpl.Skipped, "FunctionRole (AWS::IAM::Role)") || slices.ContainsFunc(tpl.Skipped, func(s string) bool { return strings.Contains(s, "Permission") }) {
		t.Fatalf("skipped %q", tpl.Skipped)
	}
	if len(tpl.Tables) != 1 || *tpl.Tables[0].Create.KeySchema[0].AttributeName != "connectionId" {
		t.Fatalf("tables %+v", tpl.Tables)
	}
}

// TestProjectSAMTemplate: deploy/sam/template.yaml, unchanged, with its
// artifact (dist/lambda/bootstrap-arm64.zip) at the path it names.
func TestProjectSAMTemplate(t *testing.T) {
	t.Parallel()
	bin := echoBootstrap(t)
	root := filepath.Join(t.TempDir(), "repo")
	copyFile(t, "../deploy/sam/template.yaml", filepath.Join(root, "deploy", "sam", "template.yaml"), 0o644)
	writeZip(t, filepath.Join(root, "dist", "lambda", "bootstrap-arm64.zip"), map[string]zipEntry{"bootstrap": {path: bin, mode: 0o755}})
	path := filepath.Join(root, "deploy", "sam", "template.yaml")
	cache := t.TempDir()

	// Its rule: a token secret or a JWKS URL is required.
	_, err := config.LoadTemplate(path, config.TemplateOptions{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "template.yaml:103: Rules.TokensCanBeChecked: Set JwtSecret (HS256) or JwksUrl (Cognito)") {
		t.Fatalf("without a secret: %v", err)
	}
	params, err := cfn.ParseOverrides("JwtSecret=0123456789abcdef0123456789abcdef StageName=dev")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := config.LoadTemplate(path, config.TemplateOptions{Parameters: params, StackName: "chat", CacheDir: cache, GatewayURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	f := tpl.File
	if f.Stage != "dev" || f.RouteSelectionExpression != "$request.body.action" || len(f.Routes) != 16 {
		t.Fatalf("stage %s, %d routes", f.Stage, len(f.Routes))
	}
	msg := f.Routes["sendMessage"].Integration
	if msg.FunctionName != "chat-message" || msg.Handler != "message" || msg.Timeout != "10s" || msg.MemoryMB != 256 ||
		msg.Environment["FANOUT_QUEUE_URL"] != "http://127.0.0.1:8080/@sqs/000000000000/chat-fanout" || msg.Environment["FANOUT_THRESHOLD"] != "500" ||
		!strings.HasPrefix(msg.Environment["TABLE_NAME"], "chat-Table-") || !strings.HasPrefix(msg.Path, cache) || filepath.Base(msg.Path) != "bootstrap" {
		t.Fatalf("message integration %+v", msg)
	}
	if _, ok := msg.Environment["CONNECTION_TTL"]; ok {
		t.Fatal("AWS::NoValue left CONNECTION_TTL set")
	}
	if f.Authorizer == nil || f.Authorizer.Integration.Handler != "authorizer" || f.Authorizer.Integration.Environment["JWT_SECRET"] != params["JwtSecret"] ||
		!slices.Equal(f.Authorizer.IdentitySources, []string{"route.request.querystring.token"}) {
		t.Fatalf("authorizer %+v", f.Authorizer)
	}
	fan := f.Queues["chat-fanout"]
	if fan.Integration.Handler != "fanout" || fan.BatchSize != 10 || fan.MaxReceiveCount != 3 || fan.RetryDelay != "360s" || fan.Integration.Timeout != "60s" {
		t.Fatalf("fan-out queue %+v", fan)
	}
	if len(tpl.Streams) != 1 {
		t.Fatalf("streams %+v", tpl.Streams)
	}
	s := tpl.Streams[0]
	if s.TableName != msg.Environment["TABLE_NAME"] || s.FunctionName != "chat-cleanup" || s.Function.Handler != "cleanup" || s.BatchSize != 100 ||
		s.StartingPosition != "LATEST" || s.MaximumRetryAttempts != 5 || !s.BisectBatchOnFunctionError || s.MaximumRecordAgeInSeconds != -1 ||
		len(s.Filters) != 1 || !strings.Contains(s.Filters[0], `"principalId":["dynamodb.amazonaws.com"]`) {
		t.Fatalf("stream %+v", s)
	}
	if len(tpl.Tables) != 1 || tpl.Tables[0].TTLAttribute != "expiresAt" || len(tpl.Tables[0].Create.GlobalSecondaryIndexes) != 2 {
		t.Fatalf("tables %+v", tpl.Tables)
	}
	for _, want := range []string{"AuthorizerRole (AWS::IAM::Role)", "FanoutDeadLetterAlarm (AWS::CloudWatch::Alarm)", "ApiGatewayAccount (AWS::ApiGateway::Account: its condition CreateAccountRole is false)"} {
		if !slices.Contains(tpl.Skipped, want) {
			t.Errorf("skipped lacks %q: %q", want, tpl.Skipped)
		}
	}
	rt := build(t, f, config.BuildEnv{Logger: quiet})
	// The stream consumer, which no route uses, is a function too.
	if _, err := rt.Invoker(s.Function); err != nil {
		t.Fatal(err)
	}
}

type zipEntry struct {
	path string // a file to store, or
	data string
	mode os.FileMode
}

func writeZip(t *testing.T, path string, entries map[string]zipEntry) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for name, e := range entries {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if e.path != "" {
			// A program is stored: deflating and inflating 8 MB cost
			// seconds of CPU under -race; the small entries are deflated.
			h.Method = zip.Store
		}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte(e.data)
		if e.path != "" {
			if data, err = os.ReadFile(e.path); err != nil {
				t.Fatal(err)
			}
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestCDKTemplate: the JSON template of cdk synth, its Node.js functions in
// asset directories next to it.
func TestCDKTemplate(t *testing.T) {
	t.Parallel()
	path := "testdata/templates/cdk/WebSocketChat.template.json"
	tpl, err := config.LoadTemplate(path, config.TemplateOptions{GatewayURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	f := tpl.File
	if tpl.StackName != "cdk" || f.Stage != "dev" || len(f.Routes) != 4 || !f.Routes["sendmessage"].RouteResponse || f.Routes["$default"].RouteResponse {
		t.Fatalf("stack %s stage %s routes %+v", tpl.StackName, f.Stage, f.Routes)
	}
	abs, _ := filepath.Abs("testdata/templates/cdk")
	conn := f.Routes["$connect"].Integration
	if conn.Runtime != "nodejs20.x" || conn.Handler != "index.handler" || conn.Path != "" || conn.Timeout != "" ||
		conn.CodeURI != filepath.Join(abs, "asset.a43e60cd2705760e74ee55a8fc9c98bc786e6ca27c25e077fe5e3f28779fd1bf") ||
		!strings.HasPrefix(conn.FunctionName, "cdk-ConnectHandler") || conn.Environment["QUEUE_URL"] != "http://127.0.0.1:8080/@sqs/000000000000/"+tpl.Stack.Queues[0].Name {
		t.Fatalf("connect integration %+v", conn)
	}
	if f.Routes["$disconnect"].Integration.FunctionName != conn.FunctionName {
		t.Fatal("$connect and $disconnect do not share their function")
	}
	if f.Authorizer == nil || !strings.HasSuffix(f.Authorizer.Integration.CodeURI, "asset.967c301a448b4124b17e1e29963902da2dab0f3ed01c8b17aa16b2e829601404") ||
		f.Authorizer.IdentitySources[0] != "route.request.querystring.token" {
		t.Fatalf("authorizer %+v", f.Authorizer)
	}
	if len(f.Queues) != 1 || len(tpl.Streams) != 1 || tpl.Streams[0].StartingPosition != "TRIM_HORIZON" || tpl.Streams[0].MaximumRetryAttempts != 3 {
		t.Fatalf("queues %+v streams %+v", f.Queues, tpl.Streams)
	}
	if len(tpl.Tables) != 1 || tpl.Tables[0].Create.ProvisionedThroughput == nil || tpl.Tables[0].TTLAttribute != "expiresAt" {
		t.Fatalf("tables %+v", tpl.Tables)
	}
	if !slices.Contains(tpl.Skipped, "CDKMetadata (AWS::CDK::Metadata)") {
		t.Fatalf("skipped %q", tpl.Skipped)
	}
	// The gateway options: the Node.js functions are built (by the node on
	// PATH).
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the Node.js functions cannot be built")
	}
	build(t, f, config.BuildEnv{Logger: quiet})
}

func TestTemplateErrors(t *testing.T) {
	t.Parallel()
	bin := echoBootstrap(t)
	const head = `Transform: AWS::Serverless-2016-10-31
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${Integration}"}
`
	cases := []struct {
		name, fn, extra, want string
		files                 map[string]os.FileMode // relative paths to create (0: a directory)
		o                     config.TemplateOptions
	}{
		{name: "no directory", fn: "{CodeUri: missing/, Runtime: provided.al2023}",
			want: "template.yaml:12: Resources.Fn.Properties.CodeUri: DIR/missing: no such directory (function Fn)"},
		{name: "no bootstrap", fn: "{CodeUri: code/, Runtime: provided.al2023}", files: map[string]os.FileMode{"code": 0},
			want: "Resources.Fn.Properties.CodeUri: function Fn (provided.al2023): no DIR/code/bootstrap: the code directory has no executable bootstrap"},
		{name: "bootstrap not executable", fn: "{CodeUri: code/, Runtime: provided.al2}", files: map[string]os.FileMode{"code/bootstrap": 0o644},
			want: "function Fn (provided.al2): DIR/code/bootstrap is not executable"},
		{name: "build method", fn: "{CodeUri: src/, Runtime: provided.al2023}", extra: "    Metadata: {BuildMethod: go1.x}\n", files: map[string]os.FileMode{"src/main.go": 0o644},
			want: "(Metadata.BuildMethod go1.x: run sam build and load .aws-sam/build/template.yaml)"},
		{name: "node handler", fn: "{CodeUri: code/, Runtime: nodejs20.x, Handler: app.handler}", files: map[string]os.FileMode{"code/index.js": 0o644},
			want: "Resources.Fn.Properties.Handler: function Fn (nodejs20.x): handler app.handler: no DIR/code/app.js, .mjs or .cjs"},
		{name: "node handler form", fn: "{CodeUri: code/, Runtime: nodejs22.x, Handler: index}", files: map[string]os.FileMode{"code/index.js": 0o644},
			want: `handler "index": want FILE.EXPORT, e.g. index.handler`},
		{name: "python", fn: "{CodeUri: code/, Runtime: python3.12, Handler: app.handler}", files: map[string]os.FileMode{"code": 0},
			want: "Resources.Fn.Properties.Runtime: python3.12 is not supported locally"},
		{name: "no runtime", fn: "{CodeUri: code/}", files: map[string]os.FileMode{"code": 0},
			want: "Resources.Fn.Properties.Runtime: required"},
		{name: "a file", fn: "{CodeUri: code.txt, Runtime: provided.al2023}", files: map[string]os.FileMode{"code.txt": 0o644},
			want: "DIR/code.txt is a file, not the function's directory or a .zip (function Fn)"},
		{name: "identity source", fn: "{CodeUri: code/, Runtime: provided.al2023}", files: map[string]os.FileMode{"code/bootstrap": 0o755},
			extra: `  Authorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties: {ApiId: !Ref Api, AuthorizerType: REQUEST, AuthorizerUri: !GetAtt Fn.Arn, IdentitySource: [context.requestId], Name: a}
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $connect, AuthorizationType: CUSTOM, AuthorizerId: !Ref Authorizer, Target: !Sub "integrations/${Integration}"}
`, want: `Resources.Authorizer.Properties.IdentitySource: "context.requestId" is not supported locally: want route.request.querystring.NAME, route.request.header.NAME or stageVariables.NAME`},
		{name: "unknown stage", fn: "{CodeUri: code/, Runtime: provided.al2023}", files: map[string]os.FileMode{"code/bootstrap": 0o755},
			extra: "  Stage: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: !Ref Api, StageName: prod}}\n", o: config.TemplateOptions{Stage: "dev"},
			want: "API Api has no stage dev (its stages: prod)"},
		{name: "two apis", fn: "{CodeUri: code/, Runtime: provided.al2023}", files: map[string]os.FileMode{"code/bootstrap": 0o755},
			extra: "  Api2: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.a}}\n",
			want:  "template.yaml: Resources: 2 WebSocket APIs (Api, Api2): pick one"},
		{name: "no api", fn: "{CodeUri: code/, Runtime: provided.al2023}", files: map[string]os.FileMode{"code/bootstrap": 0o755},
			extra: "", o: config.TemplateOptions{API: "Other"}, want: "no WebSocket API Other (the template's: Api)"},
		{name: "fifo", fn: "{CodeUri: code/, Runtime: provided.al2023, Events: {Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn}}}}", files: map[string]os.FileMode{"code/bootstrap": 0o755},
			extra: "  Queue: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}\n", want: "Resources.Queue: queue s-Queue-",
		},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		for rel, mode := range tc.files {
			p := filepath.Join(dir, rel)
			if mode == 0 {
				os.MkdirAll(p, 0o755)
				continue
			}
			os.MkdirAll(filepath.Dir(p), 0o755)
			if filepath.Base(p) == "bootstrap" && mode == 0o755 {
				copyFile(t, bin, p, mode)
				continue
			}
			if err := os.WriteFile(p, []byte("x"), mode); err != nil {
				t.Fatal(err)
			}
		}
		doc := head + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: " + tc.fn + "\n" + tc.extra
		path := filepath.Join(dir, "template.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		o := tc.o
		o.StackName = "s"
		_, err := config.LoadTemplate(path, o)
		want := strings.ReplaceAll(tc.want, "DIR", dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v\nwant one containing %q", tc.name, err, want)
		}
	}
}

// TestCodeZip: a .zip CodeUri is extracted once, with its modes; entries
// that point outside the directory are refused.
func TestCodeZip(t *testing.T) {
	t.Parallel()
	bin := echoBootstrap(t)
	dir, cache := t.TempDir(), t.TempDir()
	doc := `Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
  Fn: {Type: AWS::Lambda::Function, Properties: {Code: code.zip, Runtime: provided.al2023, Handler: h}}
  Integration: {Type: AWS::ApiGatewayV2::Integration, Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}}
  Route: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${Integration}"}}
`
	path := filepath.Join(dir, "template.yaml")
	os.WriteFile(path, []byte(doc), 0o644)
	writeZip(t, filepath.Join(dir, "code.zip"), map[string]zipEntry{"bootstrap": {path: bin, mode: 0o755}, "lib/data.txt": {data: "hello", mode: 0o644}})
	tpl, err := config.LoadTemplate(path, config.TemplateOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	in := tpl.File.Routes["$default"].Integration
	if b, err := os.ReadFile(filepath.Join(in.CodeURI, "lib", "data.txt")); err != nil || string(b) != "hello" || in.Path != filepath.Join(in.CodeURI, "bootstrap") {
		t.Fatalf("extracted %s: %q %v", in.CodeURI, b, err)
	}
	st, _ := os.Stat(in.Path)
	os.WriteFile(filepath.Join(in.CodeURI, "marker"), nil, 0o644)
	again, err := config.LoadTemplate(path, config.TemplateOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if c := again.File.Routes["$default"].Integration.CodeURI; c != in.CodeURI {
		t.Fatalf("extracted again to %s", c)
	}
	if _, err := os.Stat(filepath.Join(in.CodeURI, "marker")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("not reused (%v), or mode %v", err, st.Mode())
	}
	writeZip(t, filepath.Join(dir, "code.zip"), map[string]zipEntry{"../escape": {data: "x", mode: 0o644}})
	if _, err := config.LoadTemplate(path, config.TemplateOptions{CacheDir: cache}); err == nil || !strings.Contains(err.Error(), `entry "../escape" points outside the directory`) {
		t.Fatalf("zip slip: %v", err)
	}
}
