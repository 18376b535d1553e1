package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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
	"github.com/switchboard-ws/switchboard/internal/localca"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

var wsURLLine = regexp.MustCompile(`ws://(\S+?)/`)

// startServe runs `serve args...` in-process until the test ends and
// returns the address it listens on.
func startServe(t *testing.T, args ...string) (addr string, stderr *testutil.Buffer) {
	addr, _, stderr = startServeOutput(t, args...)
	return addr, stderr
}

// startServeOutput is startServe that also returns serve's stdout.
func startServeOutput(t *testing.T, args ...string) (addr string, stdout, stderr *testutil.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout = &testutil.Buffer{}
	stderr = &testutil.Buffer{}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, args, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\nstderr:\n%s", err, stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := wsURLLine.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout, stderr
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// buildFixture puts a Go program of testdata, linked once for the suite
// (testutil.GoBinary), into dir/bootstrap.
func buildFixture(t *testing.T, pkg, dir string) string {
	t.Helper()
	b, err := os.ReadFile(testutil.GoBinary(t, testutil.Build{Pkg: "./" + filepath.Join("testdata", pkg)}))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestHandlersPostBackOverHTTPSAndHTTP runs a function that posts back to
// https://{domainName}/{stage}, to http://… and to AWS's own host name of
// the API (through the CONNECT proxy) with the AWS SDK: with TLS
// on by default, both reach the management API, the function trusting the
// local CA only through the environment serve gives it; and clients
// connect with wss:// and ws:// on the same port.
func TestHandlersPostBackOverHTTPSAndHTTP(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	t.Setenv(localca.EnvDir, caDir)
	dir := t.TempDir()
	bin := buildFixture(t, "poster", dir)
	cfg := filepath.Join(dir, "api.yaml")
	os.WriteFile(cfg, []byte(`stage: dev
routeSelectionExpression: $request.body.action
routes:
  $default:
    integration: {type: lambda, path: `+bin+`, timeout: 10s}
`), 0o644)

	t.Run("local CA", func(t *testing.T) {
		addr, stderr := startServe(t, "--config", cfg, "--addr", "127.0.0.1:0")
		ca, created, err := localca.Load(caDir)
		if err != nil || created {
			t.Fatalf("serve did not leave its CA in %s: created now %v, %v", caDir, created, err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		checkPostBack(t, addr, roots, stderr)
		// Without the CA a wss client fails: the certificate is the local CA's.
		if _, _, err := websocket.DefaultDialer.Dial("wss://"+addr+"/dev", nil); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("wss without trusting the CA: %v", err)
		}
	})

	t.Run("--tls-cert", func(t *testing.T) {
		// The user's own certificate, from a CA of their own that
		// nothing trusts: the functions trust it through the bundle.
		own, _, err := localca.Load(filepath.Join(t.TempDir(), "own-ca"))
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := own.Issue([]string{"127.0.0.1", "local.execute-api.us-east-1.amazonaws.com"})
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := writeKeyPair(t, leaf)
		addr, stderr := startServe(t, "--config", cfg, "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
		roots := x509.NewCertPool()
		roots.AddCert(own.Cert)
		checkPostBack(t, addr, roots, stderr)
	})

	t.Run("--no-tls", func(t *testing.T) {
		addr, _ := startServe(t, "--config", cfg, "--addr", "127.0.0.1:0", "--no-tls")
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/dev", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 5 * time.Second}
		if _, _, err := d.Dial("wss://"+addr+"/dev", nil); err == nil {
			t.Error("wss connected with --no-tls")
		}
	})
}

// checkPostBack connects over wss (trusting roots) and ws, sends a message
// each, and expects the poster function's three posts back.
func checkPostBack(t *testing.T, addr string, roots *x509.CertPool, stderr *testutil.Buffer) {
	t.Helper()
	dialers := map[string]*websocket.Dialer{
		"wss": {TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: 10 * time.Second},
		"ws":  {HandshakeTimeout: 10 * time.Second},
	}
	for scheme, d := range dialers {
		c, _, err := d.Dial(scheme+"://"+addr+"/dev", nil)
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte("hello "+scheme))
		got := map[string]bool{}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for len(got) < 3 {
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%s client: %v (got %v)\nserve's log:\n%s", scheme, err, got, stderr)
			}
			got[string(msg)] = true
		}
		for _, want := range []string{"via https: hello " + scheme, "via http: hello " + scheme, "via execute-api: hello " + scheme} {
			if !got[want] {
				t.Errorf("%s client: got %v, want %q", scheme, got, want)
			}
		}
	}
}

// writeKeyPair writes a certificate chain and its key as PEM files.
func writeKeyPair(t *testing.T, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, chain, 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
	return certFile, keyFile
}

func TestBadCertificateFilesFailBeforeListening(t *testing.T) {
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "api.yaml")
	os.WriteFile(cfg, []byte("stage: dev\nrouteSelectionExpression: $request.body.action\n"), 0o644)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", garbage}, "--tls-cert: open"},
		{[]string{"--tls-cert", garbage}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", garbage, "--tls-key", garbage}, "--tls-cert " + garbage},
		{[]string{"--no-tls", "--tls-key", garbage}, "choose one"},
	} {
		code, stdout, stderr := run(append([]string{"serve", "--config", cfg, "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stdout, "listening") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 1 and %q before listening", tc.args, code, stderr, stdout, tc.want)
		}
	}
}

// TestAWSServiceNamesReachLocalEndpoints runs functions whose code names
// AWS's own DynamoDB endpoint, https://dynamodb.{region}.amazonaws.com (a Go
// function through the CONNECT proxy, a Node.js one through the runtime's
// redirect): both reach --dynamodb-endpoint through the gateway's port.
func TestAWSServiceNamesReachLocalEndpoints(t *testing.T) {
	needNode(t)
	endpoint := testutil.DynamoDB(t)
	db := dynamo.LocalClient(endpoint)
	table := fmt.Sprintf("awshosts-%d", time.Now().UnixNano())
	if err := dynamo.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	dir := t.TempDir()
	bin := buildFixture(t, "awscaller", dir)
	nodeDir, err := filepath.Abs("testdata/awscaller-node")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "api.yaml")
	os.WriteFile(cfg, []byte(`stage: dev
region: eu-west-3
routeSelectionExpression: $request.body.action
routes:
  $default:
    routeResponse: true
    integration: {type: lambda, path: `+bin+`, timeout: 10s}
  node:
    routeResponse: true
    integration: {type: lambda, runtime: nodejs20.x, codeUri: `+nodeDir+`, handler: index.handler, timeout: 10s}
`), 0o644)
	addr, stderr := startServe(t, "--config", cfg, "--addr", "127.0.0.1:0", "--dynamodb-endpoint", endpoint)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ msg, prefix string }{{`{"action":"x"}`, "go: "}, {`{"action":"node"}`, "node: "}} {
		c.WriteMessage(websocket.TextMessage, []byte(tc.msg))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v\nserve's log:\n%s", tc.msg, err, stderr)
		}
		if got := string(b); !strings.HasPrefix(got, tc.prefix) || !strings.Contains(got, table) {
			t.Errorf("%s: got %q, want %q and the table %s\nserve's log:\n%s", tc.msg, got, tc.prefix, table, stderr)
		}
	}
}
