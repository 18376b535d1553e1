package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func newLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestMalformedMessagesRefused: garbage on a node's subjects gets a refusal
// (status bad request or too large), is counted and logged, and the node
// goes on serving.
func TestMalformedMessagesRefused(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	obs := watch(t, url)
	nodes := startCluster(t, url, 2)
	a, b := nodes[0], nodes[1]
	client, id := a.dial(t)
	subj := func(op string) string { return "switchboard.test.node." + a.node.NodePrefix() + "." + op }
	const (
		statusBadRequest = 3
		statusTooLarge   = 2
	)
	for _, tc := range []struct {
		name, op string
		msg      []byte
		want     byte
	}{
		{"empty post", "post", nil, statusBadRequest},
		{"short post", "post", []byte{1, 'a'}, statusBadRequest},
		{"version 9", "post", append([]byte{9}, id+"data"...), statusBadRequest},
		{"bad id", "post", append([]byte{1}, "!!!!!!!!!!!!!!!="...), statusBadRequest},
		{"get with trailing bytes", "get", append([]byte{1}, id+"x"...), statusBadRequest},
		{"batch of 0", "batch", []byte{1, 0, 0}, statusBadRequest},
		{"batch short of its ids", "batch", append([]byte{1, 0, 5}, id...), statusBadRequest},
		{"unknown op", "frobnicate", []byte{1}, statusBadRequest},
		{"oversized post", "post", append(append([]byte{1}, id...), make([]byte, cluster.DefaultMaxMessageBytes+1)...), statusTooLarge},
	} {
		rep, err := obs.Request(subj(tc.op), tc.msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(rep.Data) < 2 || rep.Data[0] != 1 || rep.Data[1] != tc.want {
			t.Errorf("%s: reply % x, want status %d", tc.name, rep.Data[:min(len(rep.Data), 2)], tc.want)
		}
	}
	if got := a.node.Refused(); got != 9 {
		t.Errorf("refused %d messages, want 9", got)
	}
	// The client got none of it, and the node still serves.
	if _, err := b.management().PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("still here")}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, client); got != "still here" {
		t.Fatalf("client got %q first, want the valid post", got)
	}
}

// TestRefusalsAreLogged: a refused message is logged with its reason.
func TestRefusalsAreLogged(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	obs := watch(t, url)
	var buf testutil.Buffer
	n := startNode(t, cluster.Config{API: "test", URL: url, User: natsUser, Password: natsPass, Logger: newLogger(&buf)})
	for range 50 {
		obs.Request("switchboard.test.node."+n.node.NodePrefix()+".post", []byte("junk"), 5*time.Second)
	}
	if n.node.Refused() != 50 {
		t.Fatalf("refused %d, want 50", n.node.Refused())
	}
	if c := strings.Count(buf.String(), "message refused"); c < 1 || c > 2 {
		t.Fatalf("%d log lines for 50 refusals, want 1 (rate-limited): %s", c, buf.String())
	}
}
