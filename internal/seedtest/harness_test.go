package seedtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// Shared by every test of the package: the switchboard binary (linked once)
// and DynamoDB Local (testutil.DynamoDB: started once, unless
// SWITCHBOARD_DYNAMODB_ENDPOINT names one). TestMain stops it.
var (
	repoRoot string // absolute
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "seedtest:", err)
		os.Exit(1)
	}
	repoRoot = root
	code := m.Run()
	testutil.StopDynamoDB()
	os.Exit(code)
}

// testdata is the absolute path of a file or directory under testdata/.
func testdata(elem ...string) string {
	return filepath.Join(append([]string{repoRoot, "internal", "seedtest", "testdata"}, elem...)...)
}

// switchboardBin returns ./cmd/switchboard, linked once for the suite
// (testutil.GoBinary).
func switchboardBin(t *testing.T) string {
	t.Helper()
	return testutil.GoBinary(t, testutil.Build{Dir: repoRoot, Pkg: "./cmd/switchboard"})
}

// dynamoEndpoint is DynamoDB Local's endpoint.
func dynamoEndpoint(t *testing.T) string {
	t.Helper()
	return testutil.DynamoDB(t)
}

// sdkDir holds the AWS SDK v3 packages that Lambda's Node.js runtime
// provides (the repository's testdata/aws-sdk-v3, installed by
// scripts/node-deps): serve's functions take them from there.
func sdkDir() string { return filepath.Join(repoRoot, "testdata", "aws-sdk-v3") }

// requireNode skips the test without node, and fails it when one of the
// directories (under testdata/, or absolute) lacks the npm packages that
// scripts/node-deps installs.
func requireNode(t *testing.T, dirs ...string) {
	t.Helper()
	testutil.RequireNode(t)
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			d = testdata(d)
		}
		abs[i] = d
	}
	testutil.RequireNPMPackages(t, abs...)
}

// esbuild runs the testdata package's esbuild with args, in dir.
func esbuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(testdata("node_modules", ".bin", "esbuild"), append(args, "--log-level=warning")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ---- switchboard serve ------------------------------------------------------

// server is a running `switchboard serve`.
type server struct {
	Addr  string // host:port of the listener, from serve's output
	Stage string
	CADir string         // its SWITCHBOARD_CA_DIR
	Roots *x509.CertPool // the local CA, which signs the gateway's certificate
}

// WSS and WS are the stage's URLs with and without TLS, on the same port.
func (s *server) WSS() string { return "wss://" + s.Addr + "/" + s.Stage }
func (s *server) WS() string  { return "ws://" + s.Addr + "/" + s.Stage }

type serveOptions struct {
	Config string   // the api.yaml (absolute), or "" (Args says what to serve)
	Dir    string   // serve's working directory
	Env    []string // added to this process's environment
	Args   []string // more flags
}

var listening = regexp.MustCompile(`ws://([^/\s]+)/(\S+)`)

// startServe runs `switchboard serve --config ... --addr 127.0.0.1:0
// --dynamodb-endpoint ...` with a fresh SWITCHBOARD_CA_DIR, and returns
// once it prints its WebSocket URL. Its output goes to the test log; the
// cleanup stops it with SIGTERM (connections closed, $disconnect run).
func startServe(t *testing.T, o serveOptions) *server {
	t.Helper()
	bin := switchboardBin(t)
	caDir := t.TempDir()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--dynamodb-endpoint", dynamoEndpoint(t)}
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	cmd := exec.Command(bin, append(args, o.Args...)...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "SWITCHBOARD_CA_DIR="+caDir, "SWITCHBOARD_NODE_SDK_DIR="+sdkDir())
	cmd.Env = append(cmd.Env, o.Env...)
	found := make(chan [2]string, 1)
	stdout := &lineLogger{t: t, prefix: "serve: ", onLine: func(line string) {
		if m := listening.FindStringSubmatch(line); m != nil {
			select {
			case found <- [2]string{m[1], m[2]}:
			default:
			}
		}
	}}
	stderr := &lineLogger{t: t, prefix: "serve: "}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second // functions it started may hold its output open
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	var exitErr error
	exited := make(chan struct{}) // closed once serve exited; exitErr is then set
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	earlyExit := false
	t.Cleanup(func() {
		defer stdout.flush()
		defer stderr.flush()
		if earlyExit {
			return
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if exitErr != nil {
				t.Errorf("switchboard serve did not exit cleanly on SIGTERM: %v", exitErr)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("switchboard serve did not exit within 30s of SIGTERM")
		}
	})
	var s server
	select {
	case m := <-found:
		s.Addr, s.Stage = m[0], m[1]
	case <-exited:
		earlyExit = true
		t.Fatalf("switchboard %s exited before listening: %v", strings.Join(cmd.Args[1:], " "), exitErr)
	case <-time.After(60 * time.Second):
		t.Fatalf("switchboard serve printed no WebSocket URL within 60s")
	}
	s.CADir = caDir
	pemData, err := os.ReadFile(filepath.Join(caDir, "ca.pem"))
	if err != nil {
		t.Fatalf("serve made no local CA in SWITCHBOARD_CA_DIR (TLS is on by default): %v", err)
	}
	s.Roots = x509.NewCertPool()
	if !s.Roots.AppendCertsFromPEM(pemData) {
		t.Fatalf("%s/ca.pem holds no certificate", caDir)
	}
	return &s
}

// leafSPKI is the base64 SHA-256 of the public key of the certificate the
// gateway presents, verified against the local CA: what Chromium's
// --ignore-certificate-errors-spki-list takes.
func (s *server) leafSPKI(t *testing.T) string {
	t.Helper()
	host, _, _ := net.SplitHostPort(s.Addr)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr, &tls.Config{RootCAs: s.Roots, ServerName: host})
	if err != nil {
		t.Fatalf("TLS handshake with the gateway at %s, trusting its local CA: %v", s.Addr, err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// lineLogger sends what is written to it to t.Log a line at a time, and
// each line to onLine.
type lineLogger struct {
	t      *testing.T
	prefix string
	onLine func(string)
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err == io.EOF {
			l.buf.WriteString(line)
			return len(p), nil
		}
		line = strings.TrimRight(line, "\r\n")
		l.t.Log(l.prefix + line)
		if l.onLine != nil {
			l.onLine(line)
		}
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log(l.prefix + l.buf.String())
		l.buf.Reset()
	}
}

// ---- WebSocket clients ------------------------------------------------------

// wsClient is a real WebSocket client (gorilla/websocket) that keeps every
// text message it receives.
type wsClient struct {
	name string
	conn *websocket.Conn
	done chan struct{} // closed when the reader ends

	mu     sync.Mutex
	msgs   []string
	seen   int           // messages expect has consumed
	notify chan struct{} // a message arrived or the reader ended
	err    error         // why the reader ended
}

// dial connects to url (wss:// trusting roots, or ws://); the cleanup
// closes the connection.
func dial(t *testing.T, name, url string, roots *x509.CertPool) *wsClient {
	t.Helper()
	// The handshake waits for $connect, which may take up to 29 s on AWS.
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, TLSClientConfig: &tls.Config{RootCAs: roots}}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (HTTP " + resp.Status + "; a 502 is a failed $connect: see serve's log above)"
		}
		t.Fatalf("%s: connecting to %s: %v%s", name, url, err, status)
	}
	c := &wsClient{name: name, conn: conn, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go c.read()
	t.Cleanup(func() {
		c.conn.Close()
		<-c.done
	})
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, p, err := c.conn.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.err = err
		} else {
			c.msgs = append(c.msgs, string(p))
		}
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (c *wsClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("%s: sending %q: %v", c.name, msg, err)
	}
}

// expect waits for the next message that match accepts, skipping (and
// logging) others, and returns it.
func (c *wsClient) expect(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		for c.seen < len(c.msgs) {
			m := c.msgs[c.seen]
			c.seen++
			if match(m) {
				c.mu.Unlock()
				return m
			}
			t.Logf("%s: received %q while waiting for %s", c.name, m, what)
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			t.Fatalf("%s: connection ended (%v) before %s arrived", c.name, err, what)
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("%s: no %s within 20s", c.name, what)
		}
	}
}

// close sends a close frame (1000) and waits until the gateway closes the
// connection in turn.
func (c *wsClient) close(t *testing.T) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("%s: sending close: %v", c.name, err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the gateway did not close the connection within 10s of the close frame", c.name)
	}
	var ce *websocket.CloseError
	if !errors.As(c.err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("%s: the connection ended with %v, want the gateway's close frame 1000", c.name, c.err)
	}
}

// ---- DynamoDB ---------------------------------------------------------------

// table is a DynamoDB Local table with a string partition key, created as
// the seed's infrastructure creates it (on demand capacity).
type table struct {
	db   *dynamodb.Client
	name string
	key  string
}

// createTable (re)creates a table: one left by an earlier run is dropped.
func createTable(t *testing.T, name, key string) *table {
	t.Helper()
	tb := dropTable(t, name, key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tb.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("creating table %s: %v", name, err)
	}
	return tb
}

// dropTable deletes a table if it exists, and returns it to be used once
// something created it again.
func dropTable(t *testing.T, name, key string) *table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := dynamo.LocalClient(dynamoEndpoint(t))
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("dropping table %s: %v", name, err)
		}
	}
	return &table{db: db, name: name, key: key}
}

// items scans the table.
func (tb *table) items(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := tb.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tb.name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scanning %s: %v", tb.name, err)
	}
	return out.Items
}

// keys is the sorted partition keys of every item.
func (tb *table) keys(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, it := range tb.items(t) {
		if s, ok := it[tb.key].(*types.AttributeValueMemberS); ok {
			ids = append(ids, s.Value)
		}
	}
	slices.Sort(ids)
	return ids
}

// waitKeys waits until the table's keys are exactly want.
func (tb *table) waitKeys(t *testing.T, what string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	var got []string
	eventually(t, 20*time.Second, func() bool {
		got = tb.keys(t)
		return slices.Equal(got, want)
	}, func() string { return fmt.Sprintf("%s: table %s holds %q, want %q", what, tb.name, got, want) })
}

// waitCount waits until the table holds n items and returns their keys.
func (tb *table) waitCount(t *testing.T, what string, n int) []string {
	t.Helper()
	var got []string
	eventually(t, 20*time.Second, func() bool {
		got = tb.keys(t)
		return len(got) == n
	}, func() string {
		return fmt.Sprintf("%s: table %s holds %d items %q, want %d", what, tb.name, len(got), got, n)
	})
	return got
}

// eventually polls cond until it holds, or fails the test with why().
func eventually(t *testing.T, timeout time.Duration, cond func() bool, why func() string) {
	t.Helper()
	if !testutil.Poll(timeout, cond) {
		t.Fatal(why())
	}
}
