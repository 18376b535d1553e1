package cluster_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

const (
	natsUser = "switchboard"
	natsPass = "s3cret-of-the-test"
)

// startNATS runs a real NATS server on a free loopback port, with a user
// and password: the external NATS of a cluster.
func startNATS(t testing.TB) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Username: natsUser, Password: natsPass, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// watch connects to the NATS at url as an observer.
func watch(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(natsUser, natsPass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// recorder records the connection ids of $connect and $disconnect.
type recorder struct {
	mu          sync.Mutex
	connects    []string
	disconnects []string
}

func (r *recorder) Invoke(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.RequestContext.RouteKey {
	case "$connect":
		r.connects = append(r.connects, ev.RequestContext.ConnectionID)
	case "$disconnect":
		r.disconnects = append(r.disconnects, ev.RequestContext.ConnectionID)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func (r *recorder) disconnected(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.disconnects {
		if d == id {
			return true
		}
	}
	return false
}

// testNode is a gateway node of a cluster, served on a loopback port.
type testNode struct {
	*gateway.Server
	node  *cluster.Node
	http  *httptest.Server
	rec   *recorder
	wsURL string
	down  bool
}

// startNode joins cfg's cluster and serves a gateway on it.
func startNode(t testing.TB, cfg cluster.Config) *testNode {
	t.Helper()
	return startNodeWith(t, cfg, gateway.Limits{})
}

// unlimited are limits for benchmarks that connect thousands of clients
// from one address at once.
var unlimited = gateway.Limits{ConnectRate: -1, SourceConnectRate: -1, MaxSourceConnections: -1}

func startNodeWith(t testing.TB, cfg cluster.Config, limits gateway.Limits) *testNode {
	t.Helper()
	n := startNodeUnserved(t, cfg, limits)
	if err := n.node.Serve(n.Server); err != nil {
		t.Fatal(err)
	}
	return n
}

// startNodeUnserved starts a node whose gateway takes clients but which
// does not answer the other nodes yet (node.Serve is the caller's).
func startNodeUnserved(t testing.TB, cfg cluster.Config, limits gateway.Limits) *testNode {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.DiscardLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node, err := cluster.Join(ctx, cfg)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	rec := &recorder{}
	srv, err := gateway.New(gateway.Options{
		Stage:   "dev",
		Routes:  map[string]gateway.Route{"$connect": {Integration: rec}, "$disconnect": {Integration: rec}},
		Cluster: node,
		Limits:  limits,
		Logger:  testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.WithMetrics())
	n := &testNode{Server: srv, node: node, http: hs, rec: rec, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"}
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop drains the node: the gateway shuts down (1001, $disconnect), then
// the node leaves the cluster.
func (n *testNode) stop(t testing.TB) {
	if n.down {
		return
	}
	n.down = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("gateway shutdown: %v", err)
	}
	if err := n.node.Close(ctx); err != nil {
		t.Errorf("node close: %v", err)
	}
	n.http.Close()
}

// dial connects a real WebSocket client and returns it with its id.
func (n *testNode) dial(t testing.TB) (*websocket.Conn, string) {
	t.Helper()
	n.rec.mu.Lock()
	before := len(n.rec.connects)
	n.rec.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(n.wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	if len(n.rec.connects) != before+1 {
		t.Fatalf("expected one $connect, have %d", len(n.rec.connects)-before)
	}
	return c, n.rec.connects[before]
}

// management is the AWS SDK's management client pointed at the node.
func (n *testNode) management() *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(n.http.URL + "/dev"),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
	})
}

// startCluster starts n nodes on the external NATS at url.
func startCluster(t testing.TB, url string, n int) []*testNode {
	t.Helper()
	var nodes []*testNode
	for range n {
		nodes = append(nodes, startNode(t, cluster.Config{API: "test", URL: url, User: natsUser, Password: natsPass}))
	}
	return nodes
}

func readText(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	return string(p)
}

func readClose(t testing.TB, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// postBatch calls the batch extension of the node.
func (n *testNode) postBatch(t testing.TB, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(n.http.URL+"/dev"+gateway.BatchPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
