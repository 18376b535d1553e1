package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// collector reads a client's text messages in the background until the
// connection ends.
type collector struct {
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func collect(t *testing.T, c *websocket.Conn) *collector {
	col := &collector{done: make(chan struct{})}
	go func() {
		defer close(col.done)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			col.mu.Lock()
			col.msgs = append(col.msgs, string(p))
			col.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-col.done })
	return col
}

// has reports whether the client got every message of want, in order
// among those of the same prefix.
func (c *collector) has(want []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for _, m := range c.msgs {
		if i < len(want) && m == want[i] {
			i++
		}
	}
	return i == len(want)
}

func (c *collector) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// load is traffic between two nodes while NATS goes away and comes back:
// posts through A's management API to a client of B, and broadcasts
// (the batch extension) through B to a client of A.
type load struct {
	mu     sync.Mutex
	posted []string // posts answered 200
	failed []error  // posts that failed
	casts  []string // broadcasts answered 200 without failed ids: delivered
	missed int      // broadcasts answered 200 with the id in failed
	bad    []string // what must never happen: a live connection reported gone
	stop   chan struct{}
	wg     sync.WaitGroup
}

func (l *load) okPosts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.posted)
}

func (l *load) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failed)
}

// TestNATSRestartUnderLoad: a separate nats-server process is killed
// (SIGKILL) while posts and broadcasts flow between two nodes, then
// started again. The nodes reconnect by themselves; during the outage a
// post through the management API fails at once with 500 (never 200 for a
// message not delivered, never 410 for a live connection: a chat would
// delete it; and it does not wait, buffered, for NATS to return);
// every post answered 200 reaches the client; a broadcast (the batch
// extension) answers 200 but names the connection it could not reach in
// "failed" (never a silent 200, never "gone"); and afterwards posts and
// broadcasts cross the nodes again. The nodes log the disconnection and
// the reconnection, and count them on /metrics.
func TestNATSRestartUnderLoad(t *testing.T) {
	t.Parallel()
	nats := startNATSProc(t, fmt.Sprintf("authorization { user: %s, password: %q }", natsUser, natsPass))
	var logA testutil.Buffer
	// A long request timeout: a call made while NATS is down must fail at
	// once, not wait (buffered) for NATS to return and be sent then, after
	// its caller gave up.
	a := startNode(t, cluster.Config{API: "restart", URL: nats.url("nats"), User: natsUser, Password: natsPass, RequestTimeout: time.Minute, Logger: newLogger(&logA)})
	b := startNode(t, cluster.Config{API: "restart", URL: nats.url("nats"), User: natsUser, Password: natsPass})
	ca, ida := a.dial(t)
	cb, idb := b.dial(t)
	atA, atB := collect(t, ca), collect(t, cb)

	// The management client without the SDK's retries: each failure is seen.
	m := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(a.http.URL + "/dev"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{},
	})
	l := &load{stop: make(chan struct{})}
	pace := time.NewTicker(5 * time.Millisecond) // keeps the failing calls from spinning
	defer pace.Stop()
	l.wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-pace.C:
			}
			msg := "post " + strconv.Itoa(i)
			_, err := m.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(idb), Data: []byte(msg)})
			l.mu.Lock()
			if err == nil {
				l.posted = append(l.posted, msg)
			} else {
				l.failed = append(l.failed, err)
			}
			l.mu.Unlock()
		}
	})
	l.wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			body := fmt.Sprintf(`{"connectionIds":[%q],"data":"cast %d"}`, ida, i)
			resp, err := http.Post(b.http.URL+"/dev"+gateway.BatchPath, "application/json", strings.NewReader(body))
			if err != nil {
				continue
			}
			var r struct{ Gone, Failed []string }
			json.NewDecoder(resp.Body).Decode(&r)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			l.mu.Lock()
			switch {
			case resp.StatusCode != http.StatusOK:
				l.bad = append(l.bad, fmt.Sprintf("broadcast %d: HTTP %d", i, resp.StatusCode))
			case len(r.Failed) == 1 && r.Failed[0] == ida:
				l.missed++
			case len(r.Failed) == 0:
				l.casts = append(l.casts, fmt.Sprintf("cast %d", i))
			default:
				l.bad = append(l.bad, fmt.Sprintf("broadcast %d: failed %v", i, r.Failed))
			}
			if len(r.Gone) > 0 {
				l.bad = append(l.bad, fmt.Sprintf("broadcast %d: live connection reported gone: %v", i, r.Gone))
			}
			l.mu.Unlock()
		}
	})
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(l.stop)
			l.wg.Wait()
		}
	}
	defer stopLoad()

	testutil.Eventually(t, 20*time.Second, func() bool { return l.okPosts() >= 20 && atA.count("cast ") >= 5 }, "traffic flows before the outage")
	nats.kill()
	before := l.failures()
	testutil.Eventually(t, 20*time.Second, func() bool {
		l.mu.Lock()
		missed := l.missed
		l.mu.Unlock()
		return l.failures() >= before+10 && missed > 0
	}, "posts fail, and broadcasts report the connection they missed, while NATS is down")
	okDuringOutage := l.okPosts()
	nats.start()
	testutil.Eventually(t, 30*time.Second, func() bool { return l.okPosts() >= okDuringOutage+20 }, "posts succeed again after NATS is back")
	castsBack := atA.count("cast ")
	testutil.Eventually(t, 20*time.Second, func() bool { return atA.count("cast ") >= castsBack+5 }, "broadcasts cross the nodes again")
	stopLoad()

	l.mu.Lock()
	posted, failed, bad, casts := append([]string(nil), l.posted...), append([]error(nil), l.failed...), l.bad, l.casts
	l.mu.Unlock()
	for _, s := range bad {
		t.Error(s)
	}
	for _, err := range failed {
		var ae smithy.APIError
		if isGone(err) || !errors.As(err, &ae) || ae.ErrorCode() != "InternalServerErrorException" {
			t.Fatalf("a post during the outage failed with %v; want 500 InternalServerErrorException", err)
		}
	}
	// Every post answered 200 reached the client, in order.
	testutil.Eventually(t, 10*time.Second, func() bool { return atB.has(posted) }, "the client of B has the %d posts answered 200", len(posted))
	// Every broadcast answered 200 without failed ids reached A's client:
	// none was silently dropped.
	testutil.Eventually(t, 10*time.Second, func() bool { return atA.has(casts) }, "A's client has the %d broadcasts answered delivered", len(casts))
	// And the other way: B to A's client.
	if err := b.Post(context.Background(), ida, []byte("after the restart")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return atA.has([]string{"after the restart"}) }, "A's client gets B's post")

	got := a.scrape(t)
	if got["switchboard_cluster_nats_connected"] != "1" || got["switchboard_cluster_nats_reconnects_total"] == "0" || got["switchboard_cluster_nats_disconnects_total"] == "0" {
		t.Errorf("A's NATS metrics: connected %s, reconnects %s, disconnects %s", got["switchboard_cluster_nats_connected"], got["switchboard_cluster_nats_reconnects_total"], got["switchboard_cluster_nats_disconnects_total"])
	}
	if got[`switchboard_cluster_requests_total{op="post",outcome="gone"}`] != "0" {
		t.Errorf("A answered 410 for a live connection %s times", got[`switchboard_cluster_requests_total{op="post",outcome="gone"}`])
	}
	for _, want := range []string{"disconnected from NATS; reconnecting", "reconnected to NATS"} {
		if !strings.Contains(logA.String(), want) {
			t.Errorf("A's log lacks %q:\n%s", want, logA.String())
		}
	}
	t.Logf("%d posts answered 200, %d failed (500) during the outage; %d broadcasts delivered, %d reported failed", len(posted), len(failed), len(casts), l.missed)
}
