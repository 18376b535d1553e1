package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/localca"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func needNode(t *testing.T) {
	t.Helper()
	testutil.RequireNode(t)
}

// TestTemplateServesTheRoutesThatWork runs a template whose functions are
// one that works, one that throws while its module loads and one that
// exits at start: the broken routes answer with the gateway's Internal
// server error frame, the log names each broken function and what went
// wrong, the working route keeps working, and the resource type serve
// does not run is listed once.
func TestTemplateServesTheRoutesThatWork(t *testing.T) {
	needNode(t)
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	addr, stdout, stderr := startServeOutput(t, "--template", "testdata/badfuncs/template.yaml", "--addr", "127.0.0.1:0", "--no-tls")
	if !strings.Contains(stdout.String(), "Alarm (AWS::CloudWatch::Alarm)") {
		t.Errorf("the alarm is not listed as not run:\n%s", stdout)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(msg string) string {
		t.Helper()
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v\nserve's log:\n%s", msg, err, stderr)
		}
		return string(b)
	}
	if got := ask(`{"action":"good","n":1}`); got != "good: 1" {
		t.Fatalf("good route: %q", got)
	}
	for _, action := range []string{"throws", "exits"} {
		if got := ask(`{"action":"` + action + `"}`); !strings.Contains(got, "Internal server error") {
			t.Errorf("%s: got %q, want the Internal server error frame", action, got)
		}
	}
	if got := ask(`{"action":"good","n":2}`); got != "good: 2" {
		t.Fatalf("good route after the failures: %q", got)
	}
	log := stderr.String()
	for _, want := range []string{"ThrowsFunction", "configuration missing", "ExitsFunction", "Runtime.ExitError"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log does not mention %q:\n%s", want, log)
		}
	}
}

// TestTemplateErrorsNameTheResource breaks the same template in ways found
// before anything is served: each is an error naming the resource (and
// property), and nothing is served.
func TestTemplateErrorsNameTheResource(t *testing.T) {
	needNode(t)
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	orig, err := os.ReadFile("testdata/badfuncs/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		old, new string
		wantAll  []string
	}{
		{"missing CodeUri", "Properties: {CodeUri: good/}", "Properties: {}", []string{"GoodFunction", "CodeUri"}},
		{"code directory missing", "Properties: {CodeUri: good/}", "Properties: {CodeUri: nowhere/}", []string{"GoodFunction", "nowhere"}},
		{"handler file missing", "Properties: {CodeUri: good/}", "Properties: {CodeUri: good/, Handler: app.handler}", []string{"GoodFunction", "app"}},
		{"dependency cycle", "  GoodFunction:\n    Type: AWS::Serverless::Function\n", "  GoodFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: ExitsFunction\n", []string{"ExitsFunction", "GoodFunction"}},
		{"bad intrinsic", "IntegrationUri: !GetAtt ThrowsFunction.Arn", "IntegrationUri: !GetAtt ThrowsFunction.Nope", []string{"ThrowsIntegration", "Nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := string(orig)
			if !strings.Contains(doc, tc.old) {
				t.Fatalf("the template has no %q", tc.old)
			}
			doc = strings.Replace(doc, tc.old, tc.new, 1)
			if tc.name == "dependency cycle" {
				doc = strings.Replace(doc, "  ExitsFunction:\n    Type: AWS::Serverless::Function\n", "  ExitsFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: GoodFunction\n", 1)
			}
			dir := t.TempDir()
			for _, d := range []string{"good", "throws", "exits"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
				b, _ := os.ReadFile(filepath.Join("testdata/badfuncs", d, "index.js"))
				os.WriteFile(filepath.Join(dir, d, "index.js"), b, 0o644)
			}
			path := filepath.Join(dir, "template.yaml")
			os.WriteFile(path, []byte(doc), 0o644)
			code, stdout, stderr := run("serve", "--template", path, "--addr", "127.0.0.1:0")
			if code != 1 || strings.Contains(stdout, "listening") {
				t.Fatalf("exit %d, want 1 before serving\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			t.Logf("%s", stderr)
			for _, want := range tc.wantAll {
				if !strings.Contains(stderr, want) {
					t.Errorf("the error does not name %q: %s", want, stderr)
				}
			}
		})
	}
}

// TestCDKTemplateEndToEnd serves the JSON template of cdk synth (its
// functions in asset directories next to it) against DynamoDB Local: the
// REQUEST authorizer refuses a client without the token; $connect writes
// the connection with SDK v3 (not bundled); the table's stream reaches the
// stream consumer, which greets the client through the endpoint serve
// configures (no endpoint in its code); a message goes through the SQS
// queue to the worker, which answers at https://{domainName}/{stage} over
// TLS; $disconnect deletes the item.
func TestCDKTemplateEndToEnd(t *testing.T) {
	needNode(t)
	endpoint := testutil.DynamoDB(t)
	sdk, err := filepath.Abs("../../testdata/aws-sdk-v3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sdk, "node_modules", "@aws-sdk", "client-sqs")); err != nil {
		t.Fatalf("the AWS SDK v3 packages of the test functions are missing: run ./scripts/node-deps (%v)", err)
	}
	t.Setenv("SWITCHBOARD_NODE_SDK_DIR", sdk)
	caDir := filepath.Join(t.TempDir(), "ca")
	t.Setenv(localca.EnvDir, caDir)
	stack := fmt.Sprintf("cdk-e2e-%d", time.Now().UnixNano())
	addr, stdout, stderr := startServeOutput(t, "--template", "../../config/testdata/templates/cdk/WebSocketChat.template.json",
		"--stack-name", stack, "--dynamodb-endpoint", endpoint, "--addr", "127.0.0.1:0")
	db := dynamo.LocalClient(endpoint)
	table := regexp.MustCompile(`table=(` + stack + `-\S+)`).FindStringSubmatch(stderr.String())
	if table == nil {
		t.Fatalf("no table ready in serve's log:\n%s", stderr)
	}
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table[1])})
	})
	if !strings.Contains(stdout.String(), "CDKMetadata (AWS::CDK::Metadata)") {
		t.Errorf("CDKMetadata is not listed as not run:\n%s", stdout)
	}

	ca, _, err := localca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: 30 * time.Second}
	if _, resp, err := d.Dial("wss://"+addr+"/dev?token=wrong", nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("a wrong token: %v, %+v; want 403 from the authorizer", err, resp)
	}
	c, _, err := d.Dial("wss://"+addr+"/dev?token=let-me-in", nil)
	if err != nil {
		t.Fatalf("connect: %v\nserve's log:\n%s", err, stderr)
	}
	defer c.Close()
	read := func() string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v\nserve's log:\n%s", err, stderr)
		}
		return string(b)
	}
	if got := read(); got != "stream: INSERT" {
		t.Fatalf("first message %q, want the stream consumer's greeting", got)
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"action":"sendmessage","text":"hello"}`))
	// The route response and the worker's answer, in either order. A
	// stream batch is delivered at least once, as on AWS: a retried one
	// (its post timed out on a loaded machine) greets again.
	got := map[string]bool{}
	for want := 2; want > 0; {
		m := read()
		switch {
		case m == "stream: INSERT":
		case got[m] || (m != `{"queued":"hello","table":"`+table[1]+`"}` && m != "worked: hello"):
			t.Fatalf("got %q after %v, want the route response and the worker's answer", m, got)
		default:
			got[m] = true
			want--
		}
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	chattest.Eventually(t, 30*time.Second, func() bool {
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table[1])})
		return err == nil && len(out.Items) == 0
	}, "$disconnect deletes the connection's item")
}
