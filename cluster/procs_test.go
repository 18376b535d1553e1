package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// binary returns the switchboard command or the nats-server of the
// module's nats-server/v2 (a separate NATS process: the external NATS of a
// cluster), linked once for the whole suite (testutil.GoBinary).
func binary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	pkg := map[string]string{"switchboard": "./cmd/switchboard", "nats-server": "github.com/nats-io/nats-server/v2"}[name]
	return testutil.GoBinary(t, testutil.Build{Dir: "..", Pkg: pkg})
}

// natsProc is a nats-server process run with a config file, on a fixed
// loopback port so that it can be killed and started again.
type natsProc struct {
	t    testing.TB
	bin  string
	conf string
	addr string
	log  *testutil.Buffer
	cmd  *exec.Cmd
	done chan struct{}
}

// startNATSProc writes conf (the server's config; host and port are
// added) and runs nats-server with it until the test ends.
func startNATSProc(t *testing.T, conf string) *natsProc {
	t.Helper()
	p := &natsProc{t: t, bin: binary(t, "nats-server"), addr: freeAddr(t), log: &testutil.Buffer{}}
	host, port, _ := net.SplitHostPort(p.addr)
	p.conf = filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(p.conf, []byte(fmt.Sprintf("host: %s\nport: %s\n%s\n", host, port, conf)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("nats-server:\n%s", p.log.String())
		}
	})
	return p
}

// start runs the server and waits until it accepts connections.
func (p *natsProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "-c", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
	testutil.Eventually(p.t, 20*time.Second, func() bool {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "nats-server accepts connections on %s", p.addr)
}

// kill ends the server with SIGKILL (no goodbye to its clients).
func (p *natsProc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// url is the server's client URL with scheme (nats or tls).
func (p *natsProc) url(scheme string) string { return scheme + "://" + p.addr }

// serveNodes runs `switchboard serve` processes of one API whose $connect
// and $disconnect routes are an HTTP endpoint of the test's that records
// the connection ids.
type serveNodes struct {
	t    *testing.T
	bin  string
	dir  string
	hook *httptest.Server
	mu   sync.Mutex
	ids  map[string][]string // route key → connection ids, in order
}

func newServeNodes(t *testing.T) *serveNodes {
	t.Helper()
	s := &serveNodes{t: t, bin: binary(t, "switchboard"), dir: t.TempDir(), ids: map[string][]string{}}
	s.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.APIGatewayWebsocketProxyRequest
		json.NewDecoder(r.Body).Decode(&ev)
		s.mu.Lock()
		s.ids[ev.RequestContext.RouteKey] = append(s.ids[ev.RequestContext.RouteKey], ev.RequestContext.ConnectionID)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"statusCode":200}`))
	}))
	t.Cleanup(s.hook.Close)
	return s
}

// config writes an API config file with extra appended (e.g. a cluster
// section) and returns its path.
func (s *serveNodes) config(name, extra string) string {
	path := filepath.Join(s.dir, name+".yaml")
	body := fmt.Sprintf(`stage: dev
routeSelectionExpression: $request.body.action
routes:
  $connect: {integration: {type: http, url: %[1]s/connect}}
  $disconnect: {integration: {type: http, url: %[1]s/disconnect}}
%[2]s`, s.hook.URL, extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// serveProc is one `switchboard serve` process.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	out  *testutil.Buffer
	done chan struct{}
	err  error // the exit, once done is closed
}

// start runs `switchboard serve --config cfg --addr … --no-tls args…`
// until the test ends; env is added to the environment.
func (s *serveNodes) start(cfg string, env []string, args ...string) *serveProc {
	s.t.Helper()
	p := &serveProc{addr: freeAddr(s.t), out: &testutil.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(s.bin, append([]string{"serve", "--config", cfg, "--addr", p.addr, "--no-tls"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if s.t.Failed() {
			s.t.Logf("serve %v:\n%s", args, p.out.String())
		}
	})
	return p
}

// exited waits for p to end by itself and returns its output.
func (p *serveProc) exited(t *testing.T) string {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit; output:\n%s", p.out.String())
	}
	if p.err == nil {
		t.Fatalf("serve exited with status 0; output:\n%s", p.out.String())
	}
	return p.out.String()
}

// dial connects a WebSocket client to url (waiting for the node to
// serve) and returns it with its connection id.
func (s *serveNodes) dial(url string) (*websocket.Conn, string) {
	s.t.Helper()
	var c *websocket.Conn
	s.mu.Lock()
	before := len(s.ids["$connect"])
	s.mu.Unlock()
	testutil.Eventually(s.t, 30*time.Second, func() bool {
		var err error
		c, _, err = websocket.DefaultDialer.Dial(url, nil)
		return err == nil
	}, "a client connects to %s", url)
	s.t.Cleanup(func() { c.Close() })
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids["$connect"]) != before+1 {
		s.t.Fatalf("%d $connect events for one client", len(s.ids["$connect"])-before)
	}
	return c, s.ids["$connect"][before]
}

// mgmt is the AWS SDK's management client of the node at addr.
func mgmt(addr string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{BaseEndpoint: aws.String("http://" + addr + "/dev"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
}

// crossPost checks that every node posts to every client, through the
// management API: the routes or subscriptions may still settle, so each
// post is tried until it succeeds.
func crossPost(t *testing.T, addrs []string, clients []*websocket.Conn, ids []string) {
	t.Helper()
	for i, a := range addrs {
		m := mgmt(a)
		for j, id := range ids {
			msg := fmt.Sprintf("from node %d to client %d", i, j)
			testutil.Eventually(t, 20*time.Second, func() bool {
				_, err := m.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(msg)})
				return err == nil
			}, "node %d posts to client %d", i, j)
			if got := readText(t, clients[j]); got != msg {
				t.Fatalf("client %d got %q, want %q", j, got, msg)
			}
		}
	}
}

// mustNotContain fails when s holds secret.
func mustNotContain(t *testing.T, s, secret, what string) {
	t.Helper()
	if secret != "" && strings.Contains(s, secret) {
		t.Fatalf("the output shows the %s:\n%s", what, s)
	}
}
