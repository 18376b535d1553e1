package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.yaml.in/yaml/v3"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/lambdaapp"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

const localConfig = "deploy/local/api.yaml"

// awsSDKEnv: what the local functions set for the AWS SDK, besides
// lambdaapp's variables (Lambda sets these itself on AWS).
var awsSDKEnv = []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"}

var localRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// TestLocalConfig checks deploy/local/api.yaml like the templates: the
// routes the code serves, each to the function of the right handler, run
// from the amd64 artifact of scripts/build-lambda, with the environment
// lambdaapp reads.
func TestLocalConfig(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	x := expected(t)
	raw, err := os.ReadFile(filepath.Join(root, localConfig))
	if err != nil {
		t.Fatal(err)
	}
	// ${NAME:-default} as their defaults; ${JWT_SECRET} as a test secret.
	var missing []string
	b := localRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := localRef.FindSubmatch(m)
		if sub[2] != nil {
			return sub[3]
		}
		if string(sub[1]) == "JWT_SECRET" {
			return []byte(testSecret)
		}
		missing = append(missing, string(sub[1]))
		return nil
	})
	if len(missing) > 0 {
		t.Errorf("%s: ${%v} without a default", localConfig, missing)
	}
	var f config.File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", localConfig, err)
	}
	if f.RouteSelectionExpression != "$request.body.action" {
		t.Errorf("%s: routeSelectionExpression %q", localConfig, f.RouteSelectionExpression)
	}
	artifact := filepath.Join("dist", "lambda", "amd64", "bootstrap")
	fn := func(where string, in config.Integration, handler string) {
		if in.Type != "lambda" || in.Handler != handler {
			t.Errorf("%s: %s: integration %s/%s, want type lambda, handler %s", localConfig, where, in.Type, in.Handler, handler)
		}
		if filepath.Clean(in.Path) != artifact {
			t.Errorf("%s: %s: path %q, want %s (scripts/build-lambda)", localConfig, where, in.Path, artifact)
		}
		env := map[string]string{"_HANDLER": handler}
		for k, v := range in.Environment {
			switch {
			case slices.Contains(awsSDKEnv, k):
				continue
			case k == "_HANDLER" || !slices.Contains(x.env, k):
				t.Errorf("%s: %s: sets %s, which is not a variable of lambdaapp.Env", localConfig, where, k)
			}
			env[k] = v
		}
		if _, err := lambdaapp.ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: %s: the bootstrap would not start: %v", localConfig, where, oneLine(err))
		}
		if v, ok := in.Environment["CALLBACK_URL"]; ok && v != "http://"+f.Listen+"/"+f.Stage {
			t.Errorf("%s: %s: CALLBACK_URL %q is not this gateway's @connections (http://%s/%s)", localConfig, where, v, f.Listen, f.Stage)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Routes)) {
		want, ok := x.routes[k]
		if !ok {
			t.Errorf("%s: routes.%s: not served by the code", localConfig, k)
			continue
		}
		fn("routes."+k, f.Routes[k].Integration, want)
	}
	for _, k := range slices.Sorted(maps.Keys(x.routes)) {
		if _, ok := f.Routes[k]; !ok {
			t.Errorf("%s: no route %q (want the %s handler)", localConfig, k, x.routes[k])
		}
	}
	// The fan-out queue: consumed by the fanout function as on AWS, and the
	// queue the broadcasting functions send to.
	if len(f.Queues) != 1 {
		t.Fatalf("%s: queues: want the fan-out queue, found %d", localConfig, len(f.Queues))
	}
	for name, q := range f.Queues {
		fn("queues."+name+".integration", q.Integration, x.consumer)
		if q.MaxReceiveCount != x.maxReceiveCount || q.BatchSize < 1 || q.BatchSize > sqsMaxEventBatch {
			t.Errorf("%s: queues.%s: maxReceiveCount %d, batchSize %d; want %d (as the deployments) and 1 to 10", localConfig, name, q.MaxReceiveCount, q.BatchSize, x.maxReceiveCount)
		}
		base := "http://" + f.Listen
		check := func(where string, in config.Integration, handler string) {
			if !slices.Contains(x.broadcasters, handler) {
				return
			}
			if v := in.Environment["FANOUT_QUEUE_URL"]; v != queue.QueueURL(base, name) {
				t.Errorf("%s: %s: FANOUT_QUEUE_URL %q, want this gateway's queue %s", localConfig, where, v, queue.QueueURL(base, name))
			}
			if v := in.Environment["SQS_ENDPOINT"]; v != base+queue.APIPath {
				t.Errorf("%s: %s: SQS_ENDPOINT %q, want this gateway's SQS API %s", localConfig, where, v, base+queue.APIPath)
			}
		}
		check("queues."+name+".integration", q.Integration, x.consumer)
		for _, k := range slices.Sorted(maps.Keys(f.Routes)) {
			check("routes."+k, f.Routes[k].Integration, x.routes[k])
		}
	}
	if f.Authorizer == nil {
		t.Fatalf("%s: no authorizer", localConfig)
	}
	if !slices.Equal(f.Authorizer.IdentitySources, []string{tokenSource}) {
		t.Errorf("%s: authorizer.identitySources %q, want [%s]", localConfig, f.Authorizer.IdentitySources, tokenSource)
	}
	fn("authorizer", f.Authorizer.Integration, "authorizer")
}

// TestLocalConfigRuns runs deploy/local/api.yaml as docs/deploy.md says:
// the bootstrap built as scripts/build-lambda builds it, DynamoDB Local
// with the table of devtool create-table, a token as devtool token mints
// it, and a short conversation.
func TestLocalConfigRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	root := repoRoot(t)
	endpoint := testutil.DynamoDB(t)
	ctx := context.Background()
	table := fmt.Sprintf("deploy-local-%d", time.Now().UnixNano())
	if err := dynamo.CreateTable(ctx, dynamo.LocalClient(endpoint), table); err != nil {
		t.Fatal(err)
	}

	bin := testutil.GoBinary(t, testutil.Build{Dir: root, Pkg: "./cmd/bootstrap",
		Flags: []string{"-trimpath", "-tags", "lambda.norpc"}, Env: []string{"CGO_ENABLED=0"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SWITCHBOARD_LISTEN", ln.Addr().String())
	t.Setenv("SWITCHBOARD_BOOTSTRAP", bin)
	t.Setenv("TABLE_NAME", table)
	t.Setenv("DYNAMODB_ENDPOINT", endpoint)
	t.Setenv("JWT_SECRET", testSecret)
	t.Setenv("FANOUT_THRESHOLD", "1") // every broadcast to two or more through the queue

	file, err := config.Load(filepath.Join(root, localConfig))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := file.Build(ctx, config.BuildEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	opts := rt.GatewayOptions()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux() // as switchboard serve mounts them
	mux.Handle("/", gw)
	api := rt.QueueAPI(opts.Logger)
	if api == nil {
		t.Fatalf("%s: no queues", localConfig)
	}
	mux.Handle(queue.APIPath, api)
	mux.Handle(queue.APIPath+"/", api)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer func() { gw.Shutdown(ctx); srv.Close() }()
	url := "ws://" + ln.Addr().String() + "/" + opts.Stage

	token := func(user string) string {
		tok, err := auth.MintDevToken([]byte(testSecret), auth.Identity{UserID: user, Username: user, TenantID: auth.DefaultTenantID}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, resp, err := websocket.DefaultDialer.Dial(url+"?token=forged", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged token: %v, %v; want 401", resp, err)
	}
	alice, bob := dial(t, url, token("alice")), dial(t, url, token("bob"))
	var room struct {
		RoomID string `json:"roomId"`
	}
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &room)
	alice.ok("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.ok("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.ok("sendMessage", map[string]any{"roomId": room.RoomID, "content": "hello from the artifact"}, nil)
	alice.wait(`"type":"message"`, "hello from the artifact")
	// The broadcast went through the fan-out queue and the fanout function.
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rt.Queue("fanout").Flush(fctx); err != nil {
		t.Fatalf("fan-out queue: %v", err)
	}
	if st := rt.Queue("fanout").Stats(); st.Sent == 0 || st.Deleted == 0 || st.DeadLettered != 0 {
		t.Errorf("fan-out queue: %+v; want broadcasts sent through it and delivered", st)
	}
	bob.conn.Close()
	alice.wait(`"type":"user_left"`, `"bob"`)
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	seq  int
}

func dial(t *testing.T, url, token string) *wsClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url+"?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, conn: c}
}

// wait reads until a frame contains every part (cold starts are slow).
func (c *wsClient) wait(parts ...string) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %v: %v", parts, err)
		}
		if !slices.ContainsFunc(parts, func(s string) bool { return !strings.Contains(string(p), s) }) {
			return string(p)
		}
	}
}

func (c *wsClient) ok(action string, data, out any) {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("%s-%d", action, c.seq)
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
	var r map[string]json.RawMessage
	json.Unmarshal([]byte(c.wait(`"requestId":"`+id+`"`)), &r)
	if string(r["type"]) != `"success"` {
		c.t.Fatalf("%s: %s", action, r["error"])
	}
	if out != nil {
		json.Unmarshal(r["data"], out)
	}
}
