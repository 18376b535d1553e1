package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestNodeKilledClientsResume: three `switchboard dev` processes, a
// cluster on embedded NATS with the chat on one PostgreSQL. On node A: the
// JS client (chat/web/client.js in Node.js), the Go SDK, and a raw
// WebSocket that will not come back; on node B a member sends numbered
// messages without pause; on node C a member watches. Node A is killed
// with SIGKILL. Then:
//   - the JS client and the Go SDK reconnect to another node (they were
//     given all three addresses) and resume: they have received every
//     message acknowledged to the sender, each exactly once, those sent
//     while they were away included;
//   - the dead node is detected (beats, and NATS no longer sees it), one
//     surviving node removes its connections from the store, and the
//     watcher sees user_left once for the user who did not come back,
//     long before the connection TTL (10 minutes);
//   - the users who came back are in the room (no user_left, or user_left
//     then user_joined);
//   - the dead node's connection ids are 410 through the management API.
func TestNodeKilledClientsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs three nodes")
	}
	t.Parallel()
	node := testutil.RequireNode(t)
	pgURL := testutil.Postgres(t)
	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})

	// One dev secret for the three nodes: a token verifies on each.
	var datas []string
	for i := range 3 {
		datas = append(datas, filepath.Join(dir, fmt.Sprintf("data%d", i)))
	}
	secret, err := auth.LoadOrCreateDevSecret(datas[0])
	if err != nil {
		t.Fatal(err)
	}
	secretFile, err := os.ReadFile(filepath.Join(datas[0], auth.DevSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range datas[1:] {
		os.MkdirAll(d, 0o700)
		if err := os.WriteFile(filepath.Join(d, auth.DevSecretFile), secretFile, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	token := func(user string) string {
		tok, err := auth.MintDevToken(secret, auth.Identity{UserID: user, Username: strings.ToUpper(user[:1]) + user[1:], TenantID: "acme"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// The nodes start in turn, each routed to those before it (routes are
	// gossiped: every node ends up routed to every other). A node whose
	// route port was taken meanwhile is started again on another.
	type proc struct {
		cmd  *exec.Cmd
		url  string
		logs *testutil.Buffer
	}
	var nodes []proc
	var routes []string
	for i := range 3 {
		var p proc
		for attempt := 1; ; attempt++ {
			route := freeRoute(t)
			args := []string{"dev", "--addr", "127.0.0.1:0", "--data", datas[i], "--store", "postgres", "--cluster-listen", route}
			if len(routes) > 0 {
				args = append(args, "--cluster-peers", strings.Join(routes, ","))
			}
			cmd := exec.Command(bin, args...)
			url, logs, err := launchDev(cmd, datas[i], "SWITCHBOARD_POSTGRES_URL="+pgURL, "SWITCHBOARD_CLUSTER_SECRET=node-failure-secret")
			if err == nil {
				p = proc{cmd, url, logs}
				routes = append(routes, route)
				break
			}
			if attempt == 3 {
				t.Fatalf("node %c: %v", 'A'+i, err)
			}
			t.Logf("node %c did not start (%v); again on another route port", 'A'+i, err)
		}
		t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
		nodes = append(nodes, p)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %c:\n%s", 'A'+i, n.logs.String())
			}
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	all := []string{a.url, b.url, c.url}
	ctx := t.Context()

	// The sender on B creates the room; the watcher on C joins it.
	sender := sdk(t, []string{b.url}, token("sam"))
	room, err := sender.CreateRoom(ctx, client.CreateRoomInput{Name: "failover"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.JoinRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	watcher := sdk(t, []string{c.url}, token("wendy"))
	if _, err := watcher.JoinRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	wendy := collect(watcher)

	// On A: the Go SDK, the JS client, and Gus, who will not come back.
	gary := sdk(t, all, token("gary"))
	if gary.URL() != a.url {
		t.Fatalf("the Go SDK connected to %s, want node A %s", gary.URL(), a.url)
	}
	if _, err := gary.JoinRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	garyEvents := collect(gary)
	jess := startJSClient(t, node, all, token("jess"), room.RoomID)
	testutil.Eventually(t, 20*time.Second, func() bool { return jess.joined() != "" }, "the JS client joins the room")
	if got := jess.joined(); got != a.url {
		t.Fatalf("the JS client connected to %s, want node A %s", got, a.url)
	}
	gus, _, err := websocket.DefaultDialer.Dial(a.url+"?token="+token("gus"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gus.Close()
	request(t, gus, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	gusIDs := connectionIDs(t, pgURL, "gus")
	if len(gusIDs) != 1 {
		t.Fatalf("gus has connections %v, want one", gusIDs)
	}
	prefixA := gusIDs[0][:4]

	// Sam sends numbered messages until told to stop; acked holds the ids
	// the server acknowledged.
	var (
		mu      sync.Mutex
		acked   []string
		senders sync.WaitGroup
	)
	stop := make(chan struct{})
	stopSender := sync.OnceFunc(func() { close(stop); senders.Wait() })
	t.Cleanup(stopSender) // before the clients close, on any way out
	senders.Go(func() {
		for seq := 1; ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			m, err := sender.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: fmt.Sprintf("seq-%d", seq)})
			if err != nil {
				select {
				case <-stop: // the test is over
				default:
					t.Errorf("send seq-%d: %v", seq, err)
				}
				return
			}
			mu.Lock()
			acked = append(acked, m.MessageID)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond) // a steady stream, not a flood
		}
	})
	ackCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	testutil.Eventually(t, 20*time.Second, func() bool {
		return len(garyEvents.messages()) >= 5 && len(jess.messages()) >= 5
	}, "the clients on node A receive the sender's messages")

	// kill -9 node A.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	atKill := ackCount()

	// Both clients reconnect elsewhere and resume while messages go on.
	testutil.Eventually(t, 30*time.Second, func() bool { return garyEvents.resumed() && jess.resumed() },
		"the Go SDK and the JS client reconnect and resume")
	t.Logf("both clients resumed on another node within %v of the kill (an upper bound: polled)", time.Since(killed).Round(time.Millisecond))
	if gary.URL() == a.url || jess.url() == a.url {
		t.Fatalf("resumed on the dead node? Go SDK on %s, JS on %s", gary.URL(), jess.url())
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return ackCount() >= atKill+20 }, "messages sent after the kill")

	// The dead node is detected and cleaned up by one survivor: Gus
	// leaves, once, long before his connection would expire.
	reaped := func(p proc) bool {
		return strings.Contains(p.logs.String(), `dead node's connections removed" node=`+prefixA)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return reaped(b) || reaped(c) }, "a surviving node removes node A's connections")
	testutil.Eventually(t, 10*time.Second, func() bool { return wendy.count("user_left", "gus") >= 1 }, "user_left for gus on node C")
	t.Logf("user_left for the user who did not come back within %v of the kill (the connection TTL is 10 minutes)", time.Since(killed).Round(time.Millisecond))
	stopSender()
	if reaped(b) && reaped(c) {
		t.Errorf("both surviving nodes cleaned up after node A, want one")
	}

	// A marker after the clean-up: once the watcher has it, everything the
	// clean-up announced has reached it.
	marker, err := sender.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: "marker"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	acked = append(acked, marker.MessageID)
	want := append([]string(nil), acked...)
	mu.Unlock()
	testutil.Eventually(t, 10*time.Second, func() bool { return wendy.has(marker.MessageID) }, "the marker reaches the watcher")
	if n := wendy.count("user_left", "gus"); n != 1 {
		t.Errorf("the watcher saw user_left for gus %d times, want once", n)
	}
	for _, u := range []string{"gary", "jess"} {
		if seq := wendy.presence(u); len(seq) > 0 && seq[len(seq)-1] != "user_joined" {
			t.Errorf("the watcher's last word on %s, who came back, is %v", u, seq)
		}
	}

	// Every acknowledged message, exactly once, on both clients.
	for name, got := range map[string]func() []string{"Go SDK": garyEvents.messages, "JS client": jess.messages} {
		testutil.Eventually(t, 20*time.Second, func() bool { return len(got()) >= len(want) }, "the %s has every acknowledged message", name)
		checkExactlyOnce(t, name, got(), want)
	}
	garyEvents.mu.Lock()
	jess.mu.Lock()
	t.Logf("%d messages acknowledged, %d after the kill; fetched by the resume: Go SDK %d, JS client %d",
		len(want), len(want)-atKill, garyEvents.fromHistory, jess.fromHistory)
	jess.mu.Unlock()
	garyEvents.mu.Unlock()

	// No connection of node A is left in the store, and its ids are 410.
	if ids := connectionIDs(t, pgURL, ""); len(ids) > 0 {
		for _, id := range ids {
			if strings.HasPrefix(id, prefixA) {
				t.Errorf("connection %s of the dead node is still in the store", id)
			}
		}
	}
	resp, err := http.Post("http://"+strings.TrimPrefix(strings.TrimSuffix(b.url, "/dev"), "ws://")+"/dev/@connections/"+gusIDs[0], "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("post to the dead node's connection: HTTP %d, want 410", resp.StatusCode)
	}
}

// checkExactlyOnce fails unless got holds each id of want once, and
// nothing else.
func checkExactlyOnce(t *testing.T, who string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s received message %s %d times", who, id, n)
		}
	}
	missing := 0
	for _, id := range want {
		if seen[id] == 0 {
			missing++
		}
		delete(seen, id)
	}
	if missing > 0 {
		t.Errorf("%s missed %d of %d acknowledged messages", who, missing, len(want))
	}
	if len(seen) > 0 {
		t.Errorf("%s received %d messages that were never acknowledged", who, len(seen))
	}
}

// launchDev starts cmd, a `switchboard dev`, with the environment and
// more NAME=value settings, and returns its WebSocket URL (from its
// banner) and its log; an error, the process ended, when it exits or
// gives no banner within 30 s.
func launchDev(cmd *exec.Cmd, data string, env ...string) (string, *testutil.Buffer, error) {
	cmd.Env = append(append(os.Environ(), "SWITCHBOARD_CA_DIR="+filepath.Join(data, "ca")), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	urls := make(chan string, 1)
	go func() { // ends with the process's stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "WebSocket:"); ok {
				u, _, _ = strings.Cut(strings.TrimSpace(u), "?token=")
				urls <- u
				break
			}
		}
		io.Copy(io.Discard, stdout)
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if ok {
			return u, logs, nil
		}
	case <-time.After(30 * time.Second):
	}
	cmd.Process.Kill()
	cmd.Wait()
	return "", nil, fmt.Errorf("switchboard dev did not start:\n%s", logs.String())
}

// freeRoute is a loopback address for a node's NATS routes, free a
// moment ago.
func freeRoute(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sdk dials the Go SDK to the first of urls that answers.
func sdk(t *testing.T, urls []string, token string) *client.Client {
	t.Helper()
	c, err := client.Dial(t.Context(), client.Options{URLs: urls, Token: token, HeartbeatInterval: -1,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, EventBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// events are what a Go SDK client received.
type events struct {
	mu          sync.Mutex
	msgs        []string            // message ids, in arrival order (new ones only)
	fromHistory int                 // of them, fetched by the resume
	users       map[string][]string // user id → user_joined/user_left, in order
	resume      bool
	done        chan struct{}
}

// collect reads c's events until it is closed.
func collect(c *client.Client) *events {
	e := &events{users: map[string][]string{}, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		for ev := range c.Events() {
			e.mu.Lock()
			switch ev.Type {
			case client.BroadcastMessage:
				if ev.Message != nil && !ev.Message.Edited && !ev.Message.Deleted {
					e.msgs = append(e.msgs, ev.Message.MessageID)
					if ev.Resumed {
						e.fromHistory++
					}
				}
			case client.BroadcastUserJoined, client.BroadcastUserLeft:
				var d struct {
					UserID string `json:"userId"`
				}
				json.Unmarshal(ev.Data, &d)
				e.users[d.UserID] = append(e.users[d.UserID], ev.Type)
			case client.EventResumed:
				e.resume = true
			}
			e.mu.Unlock()
		}
	}()
	return e
}

func (e *events) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

func (e *events) resumed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resume
}

func (e *events) has(id string) bool {
	for _, m := range e.messages() {
		if m == id {
			return true
		}
	}
	return false
}

func (e *events) count(typ, user string) int {
	n := 0
	for _, s := range e.presence(user) {
		if s == typ {
			n++
		}
	}
	return n
}

func (e *events) presence(user string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.users[user]...)
}

// connectionIDs lists the connections in the store, of user (all with "").
func connectionIDs(t *testing.T, pgURL, user string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT connection_id FROM connections WHERE $1 = '' OR user_id = $1 ORDER BY connection_id`, user)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// jsClient is chat/web/client.js running in Node.js, reporting its events
// as JSON lines.
type jsClient struct {
	mu          sync.Mutex
	msgs        []string
	fromHistory int
	joinURL     string
	cur         string
	resume      bool
}

func (j *jsClient) messages() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.msgs...)
}

func (j *jsClient) joined() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.joinURL
}

func (j *jsClient) url() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur
}

func (j *jsClient) resumed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.resume
}

// jsRunner connects client.js with the addresses of every node, joins the
// room, and prints each event.
const jsRunner = `
import { SwitchboardClient } from %q;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const urls = JSON.parse(process.env.SB_URLS);
const c = new SwitchboardClient({ urls, token: process.env.SB_TOKEN, heartbeatMs: 0, minBackoffMs: 50, maxBackoffMs: 500 });
c.on('message', (ev) => {
  if (!ev.data.edited && !ev.data.deleted) out({ ev: 'message', id: ev.data.messageId, resumed: ev.resumed });
});
c.on('state', (ev) => out({ ev: 'state', state: ev.state, url: c.url }));
c.on('resumed', (ev) => out({ ev: 'resumed', missed: ev.missed, url: c.url }));
await c.connect();
await c.joinRoom(process.env.SB_ROOM);
out({ ev: 'joined', url: c.url });
process.stdin.on('end', () => { c.close(); process.exit(0); });
process.stdin.resume();
`

func startJSClient(t *testing.T, node string, urls []string, token, roomID string) *jsClient {
	t.Helper()
	clientJS, err := filepath.Abs(filepath.Join("..", "..", "chat", "web", "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "runner.mjs")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(jsRunner, "file://"+clientJS)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{script}
	// Node 20 has WebSocket behind a flag; from 22 on it is global.
	if out, _ := exec.Command(node, "-e", "process.stdout.write(typeof WebSocket)").Output(); string(out) != "function" {
		args = append([]string{"--experimental-websocket"}, args...)
	}
	cmd := exec.Command(node, args...)
	u, _ := json.Marshal(urls)
	cmd.Env = append(os.Environ(), "SB_URLS="+string(u), "SB_TOKEN="+token, "SB_ROOM="+roomID)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	j := &jsClient{}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev struct {
				Ev, ID, URL, State string
				Resumed            bool
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			j.mu.Lock()
			switch ev.Ev {
			case "message":
				j.msgs = append(j.msgs, ev.ID)
				if ev.Resumed {
					j.fromHistory++
				}
			case "joined":
				j.joinURL, j.cur = ev.URL, ev.URL
			case "state":
				j.cur = ev.URL
			case "resumed":
				j.resume, j.cur = true, ev.URL
			}
			j.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		wg.Wait()
		if t.Failed() {
			t.Logf("JS client stderr:\n%s", stderr.String())
		}
	})
	return j
}
