package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

// scrape reads the node's /metrics: sample (name with labels) → value.
func (n *testNode) scrape(t testing.TB) map[string]string {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %s: %s", resp.Status, b)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		m[line[:i]] = line[i+1:]
	}
	return m
}

// checkMetrics fails for each sample of want whose value differs.
func checkMetrics(t *testing.T, node string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %s", node, k, got[k], v)
		}
	}
}

// TestClusterMetrics: after a known sequence of forwarded calls,
// broadcasts and a malformed message, each node's /metrics counts them.
func TestClusterMetrics(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	obs := watch(t, url)
	nodes := startCluster(t, url, 2)
	a, b := nodes[0], nodes[1]
	ca, ida := a.dial(t)
	cb, idb := b.dial(t)
	ctx := context.Background()
	m := a.management()
	post := func(id, data string) error {
		_, err := m.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(data)})
		return err
	}

	// Node A forwards: two posts to b, one describe, a post to an id of
	// B's that B does not hold (B answers gone), a post to an id of a
	// prefix no node has (no responder: gone), a broadcast to a and b
	// (one message to B), and finally a delete of b.
	for i := range 2 {
		if err := post(idb, fmt.Sprint("hello ", i)); err != nil {
			t.Fatal(err)
		}
		readText(t, cb)
	}
	if _, err := m.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(idb)}); err != nil {
		t.Fatal(err)
	}
	unknownOfB := idb[:4] + "AAAAAAAAAAA="
	if err := post(unknownOfB, "x"); !isGone(err) {
		t.Fatalf("post to an id B does not hold: %v, want 410", err)
	}
	nobody := "zzzz" + idb[4:]
	if nobody[:4] == idb[:4] || nobody[:4] == ida[:4] {
		t.Skip("a node drew the prefix zzzz")
	}
	if err := post(nobody, "x"); !isGone(err) {
		t.Fatalf("post to a prefix no node has: %v, want 410", err)
	}
	if st, body := a.postBatch(t, fmt.Sprintf(`{"connectionIds":[%q,%q],"data":"all"}`, ida, idb)); st != http.StatusOK {
		t.Fatalf("batch: %d %s", st, body)
	}
	readText(t, ca)
	readText(t, cb)
	// A malformed message on B's subject: refused and counted by B.
	if _, err := obs.Request("switchboard.test.node."+b.node.NodePrefix()+".post", []byte{9}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(idb)}); err != nil {
		t.Fatal(err)
	}

	checkMetrics(t, "A", a.scrape(t), map[string]string{
		`switchboard_cluster_requests_total{op="post",outcome="ok"}`:      "2",
		`switchboard_cluster_requests_total{op="post",outcome="gone"}`:    "2",
		`switchboard_cluster_requests_total{op="post",outcome="timeout"}`: "0",
		`switchboard_cluster_requests_total{op="post",outcome="error"}`:   "0",
		`switchboard_cluster_requests_total{op="get",outcome="ok"}`:       "1",
		`switchboard_cluster_requests_total{op="delete",outcome="ok"}`:    "1",
		`switchboard_cluster_requests_total{op="batch",outcome="ok"}`:     "1",
		`switchboard_cluster_requests_served_total{op="post"}`:            "0",
		`switchboard_cluster_broadcasts_sent_total`:                       "1",
		`switchboard_cluster_broadcasts_received_total`:                   "0",
		`switchboard_cluster_no_responder_gone_total`:                     "1",
		`switchboard_cluster_messages_refused_total`:                      "0",
		`switchboard_cluster_peers`:                                       "0",
		`switchboard_cluster_nats_connected`:                              "1",
		`switchboard_cluster_nats_reconnects_total`:                       "0",
		`switchboard_cluster_nats_disconnects_total`:                      "0",
		`switchboard_management_posts_total`:                              "4",
		`switchboard_management_posts_gone_total`:                         "2",
		`switchboard_batch_posts_total`:                                   "1",
	})
	checkMetrics(t, "B", b.scrape(t), map[string]string{
		`switchboard_cluster_requests_total{op="post",outcome="ok"}`: "0",
		// Two posts to b, one to an id B does not hold, the malformed one.
		`switchboard_cluster_requests_served_total{op="post"}`:   "4",
		`switchboard_cluster_requests_served_total{op="get"}`:    "1",
		`switchboard_cluster_requests_served_total{op="delete"}`: "1",
		`switchboard_cluster_requests_served_total{op="batch"}`:  "1",
		`switchboard_cluster_broadcasts_sent_total`:              "0",
		`switchboard_cluster_broadcasts_received_total`:          "1",
		`switchboard_cluster_messages_refused_total`:             "1",
		`switchboard_cluster_nats_connected`:                     "1",
	})
}
