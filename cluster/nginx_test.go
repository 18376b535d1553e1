package cluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// EnvRequireNginx=1 makes TestNginxInFrontOfThreeNodes fail, rather than
// skip, when nginx is not installed (scripts/test installs it and sets it).
const EnvRequireNginx = "SWITCHBOARD_REQUIRE_NGINX"

// docNginxConfig is the nginx configuration of docs/cluster.md, made to
// run here: its three upstream servers become nodes, its listen a free
// loopback port, its certificate the test's. Every replacement must apply
// exactly as often as said, so that the doc's block and this test cannot
// drift apart: a change of the doc's block shows here.
func docNginxConfig(t *testing.T, nodes []string, listen, cert, key string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/cluster.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("docs/cluster.md has %d nginx blocks, want 1", len(blocks))
	}
	conf := string(blocks[0][1])
	for _, r := range []struct {
		old, new string
		n        int
	}{
		{"server 10.0.0.1:8080 ", "server " + nodes[0] + " ", 1},
		{"server 10.0.0.2:8080 ", "server " + nodes[1] + " ", 1},
		{"server 10.0.0.3:8080 ", "server " + nodes[2] + " ", 1},
		{"listen 443 ssl;", "listen " + listen + " ssl;", 1},
		{"/etc/ssl/ws.example.com.pem", cert, 1},
		{"/etc/ssl/ws.example.com.key", key, 1},
	} {
		if got := strings.Count(conf, r.old); got != r.n {
			t.Fatalf("docs/cluster.md's nginx block has %q %d times, want %d: update this test with the doc", r.old, got, r.n)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	return conf
}

// startNginx runs nginx, unprivileged, with the http-level configuration
// conf, in a temporary prefix directory.
func startNginx(t *testing.T, dir, conf string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv(EnvRequireNginx) == "1" {
				t.Fatalf("nginx is not installed (apt-get install -y nginx) and %s=1", EnvRequireNginx)
			}
			t.Skipf("nginx is not installed (apt-get install -y nginx); set %s=1 to make this a failure", EnvRequireNginx)
		}
	}
	for _, d := range []string{"tmp", "logs"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	main := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log info;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, dir, conf)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "logs", "error.log"))
	// Its own process group, so that its worker ends with it; its output
	// into a file, which no worker keeps Wait waiting for.
	out, err := os.Create(filepath.Join(dir, "logs", "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if os.Geteuid() == 0 {
		// Never as root: as nobody, owner of the prefix directory.
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("running as root and no user nobody to run nginx as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// TERM: the master stops its worker and waits for it; KILL the
		// group only if it does not end.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			stderr, _ := os.ReadFile(filepath.Join(dir, "logs", "stderr"))
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			t.Logf("nginx:\n%s\n%s", stderr, log)
		}
	})
}

// TestNginxInFrontOfThreeNodes: the nginx configuration of
// docs/cluster.md, taken from the doc, in front of three `switchboard
// serve` nodes (embedded NATS): WebSocket clients through nginx (TLS) are
// spread over the three nodes; a management post through nginx, signed
// with SigV4 as the doc advises, reaches a client whatever node it is on;
// and once a node is killed, new clients through nginx go to the two
// others and are reached as well.
func TestNginxInFrontOfThreeNodes(t *testing.T) {
	t.Parallel()
	// nginx runs as nobody: its directory must be its own, outside the
	// test's private temporary directory.
	dir, err := os.MkdirTemp("", "switchboard-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	caFile, certFile, keyFile := testPKI(t, dir)

	s := newServeNodes(t)
	const keyID, secret = "AKIDNGINXTEST", "nginx-test-secret-key"
	cfg := s.config("api", fmt.Sprintf("management:\n  credentials:\n    - {accessKeyId: %s, secretAccessKey: %s}\n", keyID, secret))
	env := []string{"SWITCHBOARD_CLUSTER_SECRET=nginx-test-cluster-secret"}
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var procs []*serveProc
	prefixes := map[string]int{} // node prefix → node
	for i := range 3 {
		args := []string{"--cluster-listen", routes[i]}
		if i > 0 {
			args = append(args, "--cluster-peers", routes[0])
		}
		p := s.start(cfg, env, args...)
		procs = append(procs, p)
		// A first client straight to the node tells its prefix.
		_, id := s.dial("ws://" + p.addr + "/dev")
		prefixes[id[:4]] = i
	}
	if len(prefixes) != 3 {
		t.Fatalf("node prefixes %v, want 3 different", prefixes)
	}

	lb := freeAddr(t)
	startNginx(t, dir, docNginxConfig(t, []string{procs[0].addr, procs[1].addr, procs[2].addr}, lb, certFile, keyFile))
	pem, _ := os.ReadFile(caFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: roots}
	testutil.Eventually(t, 20*time.Second, func() bool {
		c, err := tls.Dial("tcp", lb, tlsConf)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "nginx serves on %s", lb)

	dialer := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 10 * time.Second}
	var (
		clients []*websocket.Conn
		ids     []string
	)
	dialLB := func() (*websocket.Conn, string) {
		t.Helper()
		s.mu.Lock()
		before := len(s.ids["$connect"])
		s.mu.Unlock()
		c, resp, err := dialer.Dial("wss://"+lb+"/dev", nil)
		if err != nil {
			t.Fatalf("a client through nginx: %v (%v)", err, resp)
		}
		t.Cleanup(func() { c.Close() })
		s.mu.Lock()
		defer s.mu.Unlock()
		return c, s.ids["$connect"][before]
	}
	onNode := map[int]int{}
	for range 6 {
		c, id := dialLB()
		clients, ids = append(clients, c), append(ids, id)
		onNode[prefixes[id[:4]]]++
	}
	if len(onNode) != 3 {
		t.Fatalf("clients through nginx per node: %v; want all three nodes", onNode)
	}

	// The management API through nginx, with SigV4.
	m := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String("https://" + lb + "/dev"), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}},
		Retryer:     aws.NopRetryer{},
	})
	postAll := func(clients []*websocket.Conn, ids []string, round string) {
		t.Helper()
		for i, id := range ids {
			msg := fmt.Sprintf("%s to client %d", round, i)
			var last error
			if !testutil.Poll(20*time.Second, func() bool {
				_, last = m.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(msg)})
				return last == nil
			}) {
				t.Fatalf("post through nginx to client %d (node %d): %v", i, prefixes[id[:4]], last)
			}
			if got := readText(t, clients[i]); got != msg {
				t.Fatalf("client %d got %q, want %q", i, got, msg)
			}
		}
	}
	postAll(clients, ids, "first round")

	// kill -9 a node: new clients through nginx go to the other two.
	procs[2].cmd.Process.Kill()
	<-procs[2].done
	var later []*websocket.Conn
	var laterIDs []string
	for range 6 {
		c, id := dialLB()
		if n := prefixes[id[:4]]; n == 2 {
			t.Fatalf("a new client through nginx went to the killed node")
		}
		later, laterIDs = append(later, c), append(laterIDs, id)
	}
	postAll(later, laterIDs, "after the kill")
	// The clients of the live nodes from before are still reached.
	var kept []*websocket.Conn
	var keptIDs []string
	for i, id := range ids {
		if prefixes[id[:4]] != 2 {
			kept, keptIDs = append(kept, clients[i]), append(keptIDs, id)
		}
	}
	postAll(kept, keptIDs, "still there")
}
