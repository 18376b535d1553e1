// Package samchat_test runs the sam-chat example as its README does: the
// switchboard binary serving template.yaml (an AWS SAM template, unchanged)
// against DynamoDB Local, the Node.js functions of src/ run with the
// installed node, and real WebSocket clients over wss:// and ws://.
package samchat_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	mgmttypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// tablePrefix is the name CloudFormation's rule gives the template's
// ConnectionsTable in a stack named after the example's directory.
const tablePrefix = "sam-chat-ConnectionsTable-"

// readTimeout bounds the wait for one message; the first invocation of each
// function starts node and loads the SDK.
const readTimeout = 20 * time.Second

// event is what the functions post to clients.
type event struct {
	Type    string `json:"type"`
	From    string `json:"from"`
	Message string `json:"message"`
	SentAt  string `json:"sentAt"`
}

func TestSAMChat(t *testing.T) {
	t.Parallel()
	testutil.RequireNode(t) // the example's functions are Node.js
	// The functions import the AWS SDK v3 without bundling it, as Lambda's
	// runtime provides it; serve finds it in SWITCHBOARD_NODE_SDK_DIR,
	// pre-installed by scripts/node-deps so that the test needs no network.
	sdkDir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "aws-sdk-v3"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireNPMPackages(t, sdkDir)
	endpoint := testutil.DynamoDB(t)
	t.Cleanup(testutil.StopDynamoDB)

	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Dir: filepath.Join("..", ".."), Pkg: "./cmd/switchboard"})

	// The command of the README, from the repository's root.
	caDir := filepath.Join(dir, "ca")
	serve := exec.Command(bin, "serve", "--template", "examples/sam-chat/template.yaml",
		"--dynamodb-endpoint", endpoint, "--addr", "127.0.0.1:0")
	serve.Dir = filepath.Join("..", "..")
	serve.Env = append(os.Environ(), "SWITCHBOARD_CA_DIR="+caDir, "SWITCHBOARD_NODE_SDK_DIR="+sdkDir)
	serveLog := &testutil.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("switchboard serve's output:\n%s", serveLog.String())
		}
	})
	wsURL, exited := start(t, serve, serveLog)

	ctx := context.Background()
	ddb := dynamoClient(endpoint)
	table := findTable(t, ddb)
	// serve made it as the template says: TTL on ttl.
	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "ttl" {
		t.Errorf("the table's TTL: %+v, want enabled on ttl", d)
	}

	// Two clients over wss:// (trusting the local CA), one over ws://.
	caPEM, err := os.ReadFile(filepath.Join(caDir, "ca.pem"))
	if err != nil {
		t.Fatalf("the local CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s/ca.pem holds no certificate", caDir)
	}
	wss := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: readTimeout}
	ws := &websocket.Dialer{HandshakeTimeout: readTimeout}
	wssURL := "wss://" + strings.TrimPrefix(wsURL, "ws://")

	run := randomHex(4) // names are unique per run: DynamoDB Local may be shared
	alice := dial(t, wss, wssURL, "alice-"+run)
	bob := dial(t, wss, wssURL, "bob-"+run)
	carol := dial(t, ws, wsURL, "carol-"+run)
	everyone := []*websocket.Conn{alice, bob, carol}

	// Every connection is in the table, under its name.
	ids := map[string]string{} // name -> connectionId
	for _, name := range []string{"alice-" + run, "bob-" + run, "carol-" + run} {
		ids[name] = connectionIDByName(t, ddb, table, name)
	}

	t.Run("everyone gets every message", func(t *testing.T) {
		send(t, alice, `{"action":"sendmessage","message":"  hello from alice  "}`)
		for i, c := range everyone {
			expectMessage(t, c, fmt.Sprintf("client %d", i), "alice-"+run, "hello from alice")
		}
		send(t, carol, `{"action":"sendmessage","message":"<b>carol</b> over ws://"}`)
		for i, c := range everyone {
			expectMessage(t, c, fmt.Sprintf("client %d", i), "carol-"+run, "<b>carol</b> over ws://")
		}
	})

	t.Run("bad messages get an error, and nobody else sees them", func(t *testing.T) {
		for _, tc := range []struct{ frame, want string }{
			{`{"action":"sendmessage","message":42}`, `"message" must be a string`},
			{`{"action":"sendmessage","message":"   "}`, `"message" is empty`},
			{`{"action":"sendmessage","message":"` + strings.Repeat("x", 1001) + `"}`, `"message" is longer than 1000 characters`},
			{`{"action":"sendmessage","message":"bell\u0007"}`, `"message" contains control characters`},
			{`{"action":"sendmessage"}`, `"message" must be a string`},
		} {
			send(t, bob, tc.frame)
			got := read(t, bob, "bob")
			if got.Type != "error" || got.Message != tc.want {
				t.Errorf("bob sent %.60s: got %+v, want an error %q", tc.frame, got, tc.want)
			}
		}
		// Anything else is answered by $default with a hint.
		for _, frame := range []string{`hello?`, `{"action":"nosuchaction"}`} {
			send(t, bob, frame)
			if got := read(t, bob, "bob"); got.Type != "usage" || !strings.Contains(got.Message, `"action":"sendmessage"`) {
				t.Errorf("bob sent %q: got %+v, want the usage hint", frame, got)
			}
		}
		// The others received none of it: their next message is this one.
		send(t, bob, `{"action":"sendmessage","message":"after the errors"}`)
		for i, c := range everyone {
			expectMessage(t, c, fmt.Sprintf("client %d", i), "bob-"+run, "after the errors")
		}
	})

	t.Run("a name that is not acceptable refuses the connection", func(t *testing.T) {
		c, resp, err := ws.Dial(wsURL+"?name="+url.QueryEscape("<script>"), nil)
		if err == nil {
			c.Close()
			t.Fatal("the connection was accepted")
		}
		if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatalf("dial: %v, want a refused handshake", err)
		}
	})

	t.Run("a client that closes leaves the table", func(t *testing.T) {
		carol.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		carol.SetReadDeadline(time.Now().Add(readTimeout))
		if _, _, err := carol.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Errorf("carol's close: %v, want the close echoed", err)
		}
		carol.Close()
		eventually(t, func() bool { return !hasItem(t, ddb, table, ids["carol-"+run]) }, "carol's item to leave the table")
		send(t, alice, `{"action":"sendmessage","message":"carol left"}`)
		for i, c := range []*websocket.Conn{alice, bob} {
			expectMessage(t, c, fmt.Sprintf("client %d", i), "alice-"+run, "carol left")
		}
	})

	t.Run("a vanished connection is deleted on the 410 of the next broadcast", func(t *testing.T) {
		name := "dave-" + run
		dave := dial(t, ws, wsURL, name)
		id := connectionIDByName(t, ddb, table, name)
		item, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(id), ConsistentRead: aws.Bool(true)})
		if err != nil || item.Item == nil {
			t.Fatalf("dave's item: %v", err)
		}
		// Dave's network goes away: no close frame, the socket reset.
		tcp, ok := dave.UnderlyingConn().(*net.TCPConn)
		if !ok {
			t.Fatalf("dave's connection is a %T, not TCP", dave.UnderlyingConn())
		}
		tcp.SetLinger(0)
		tcp.Close()
		// The gateway notices and runs $disconnect, which deletes the item...
		eventually(t, func() bool { return !hasItem(t, ddb, table, id) }, "dave's $disconnect to delete his item")
		// ...but API Gateway runs $disconnect on a best-effort basis: when it
		// does not, the item stays. Put it back as if it had not run.
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item.Item}); err != nil {
			t.Fatal(err)
		}
		// For the @connections API, dave is gone (410).
		mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			BaseEndpoint: aws.String("http" + strings.TrimPrefix(wsURL, "ws")),
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		})
		var gone *mgmttypes.GoneException
		if _, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); !errors.As(err, &gone) {
			t.Fatalf("GetConnection(dave): %v, want GoneException", err)
		}
		// The next broadcast reaches the others, gets 410 for dave and
		// deletes his item ($disconnect cannot run twice for one connection).
		send(t, bob, `{"action":"sendmessage","message":"is dave there?"}`)
		for i, c := range []*websocket.Conn{alice, bob} {
			expectMessage(t, c, fmt.Sprintf("client %d", i), "bob-"+run, "is dave there?")
		}
		eventually(t, func() bool { return !hasItem(t, ddb, table, id) }, "sendmessage to delete dave's item on 410")
	})

	t.Run("shutdown closes every connection and runs its $disconnect", func(t *testing.T) {
		serve.Process.Signal(syscall.SIGTERM)
		for i, c := range []*websocket.Conn{alice, bob} {
			c.SetReadDeadline(time.Now().Add(readTimeout))
			if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("client %d after SIGTERM: %v, want close 1001", i, err)
			}
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("switchboard serve exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("switchboard serve did not exit after SIGTERM")
		}
		for _, name := range []string{"alice-" + run, "bob-" + run} {
			if hasItem(t, ddb, table, ids[name]) {
				t.Errorf("%s's item is still in the table after shutdown", name)
			}
		}
	})
}

// start starts serve, sends its output to log, and returns its ws:// URL
// and a channel that receives its exit.
func start(t *testing.T, serve *exec.Cmd, log *testutil.Buffer) (string, <-chan error) {
	t.Helper()
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`WebSocket:\s+(ws://\S+)`)
	found := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(log, stdout)
	}()
	exited := make(chan error, 1)
	go func() {
		<-copied // Wait must not run before the pipe is read to its end
		exited <- serve.Wait()
	}()
	t.Cleanup(func() {
		serve.Process.Kill()
		<-copied
	})
	select {
	case u := <-found:
		return u, exited
	case err := <-exited:
		t.Fatalf("switchboard serve exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("switchboard serve did not start listening within 60s")
	}
	return "", nil
}

func dynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint:                    aws.String(endpoint),
		Region:                          "us-east-1",
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
	})
}

// findTable returns the name of the template's connections table, which
// serve creates before it listens.
func findTable(t *testing.T, ddb *dynamodb.Client) string {
	t.Helper()
	var names []string
	p := dynamodb.NewListTablesPaginator(ddb, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListTables: %v", err)
		}
		for _, n := range out.TableNames {
			if strings.HasPrefix(n, tablePrefix) {
				return n
			}
			names = append(names, n)
		}
	}
	t.Fatalf("no table %s* on DynamoDB Local; tables: %v", tablePrefix, names)
	return ""
}

func dial(t *testing.T, d *websocket.Dialer, base, name string) *websocket.Conn {
	t.Helper()
	c, resp, err := d.Dial(base+"?name="+url.QueryEscape(name), nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		t.Fatalf("%s: dial %s: %v%s", name, base, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *websocket.Conn, frame string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func read(t *testing.T, c *websocket.Conn, who string) event {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(readTimeout))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("%s: read: %v", who, err)
	}
	var ev event
	if err := json.Unmarshal(p, &ev); err != nil {
		t.Fatalf("%s: got %q, not JSON: %v", who, p, err)
	}
	return ev
}

func expectMessage(t *testing.T, c *websocket.Conn, who, from, message string) {
	t.Helper()
	got := read(t, c, who)
	if got.Type != "message" || got.From != from || got.Message != message {
		t.Fatalf("%s: got %+v, want the message %q from %s", who, got, message, from)
	}
	if _, err := time.Parse(time.RFC3339, got.SentAt); err != nil {
		t.Errorf("%s: sentAt %q: %v", who, got.SentAt, err)
	}
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: id}}
}

func hasItem(t *testing.T, ddb *dynamodb.Client, table, id string) bool {
	t.Helper()
	out, err := ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem %s: %v", id, err)
	}
	return out.Item != nil
}

// connectionIDByName finds the connection whose $connect stored name.
func connectionIDByName(t *testing.T, ddb *dynamodb.Client, table, name string) string {
	t.Helper()
	var ids []string
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{
		TableName:                 &table,
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#n = :n"),
		ExpressionAttributeNames:  map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: name}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		for _, it := range out.Items {
			if s, ok := it["connectionId"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, s.Value)
			}
			if ttl, ok := it["ttl"].(*types.AttributeValueMemberN); !ok || ttl.Value == "" {
				t.Errorf("%s's item has no ttl: %v", name, it)
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d items named %s in %s, want 1: %v", len(ids), name, table, ids)
	}
	return ids[0]
}

// eventually polls cond until it holds, or fails the test after
// readTimeout (testutil.Eventually, with this file's argument order).
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testutil.Eventually(t, readTimeout, cond, "%s", what)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
