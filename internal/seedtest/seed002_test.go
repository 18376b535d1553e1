package seedtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
)

// TestSeed002 runs seed 002 ("WebSocket API Starter", CDK + TypeScript with
// aws-sdk v2): connectionHandler stores and deletes connection ids,
// messageHandler broadcasts "{id} says: {message}" (id: the recipient's)
// to every stored connection through WS_CALLBACK_URL (the stage's https:// callback URL, as
// CDK renders it). Both are bundled with esbuild as NodejsFunction bundles
// them, aws-sdk v2 included.
func TestSeed002(t *testing.T) {
	t.Parallel()
	requireNode(t, ".", "seed002")
	dir := testdata("seed002")

	build := t.TempDir()
	for name, entry := range map[string]string{
		"connectionHandler": "lambdas/connection-handler.ts",
		"messageHandler":    "lambdas/message-handler.ts",
	} {
		// NodejsFunction's defaults for a Node.js 18 function: one CommonJS
		// bundle, index.js, with @aws-sdk/* (v3, in the runtime) left out.
		esbuild(t, dir, entry, "--bundle", "--platform=node", "--target=node18", "--format=cjs",
			"--external:@aws-sdk/*", "--outfile="+filepath.Join(build, name, "index.js"))
	}

	tableName := "AppStack-storageconnectionsTable-" + randomSuffix()
	tb := createTable(t, tableName, "connectionId")
	gw := startServe(t, serveOptions{
		Config: filepath.Join(dir, "api.yaml"),
		Dir:    dir,
		Env:    []string{"BUILD_DIR=" + build, "CONNECTIONS_TABLE_NAME=" + tableName},
	})

	// Three clients, two over TLS and one without, on the same port: each
	// $connect stores its connection id.
	a := dial(t, "A (wss)", gw.WSS(), gw.Roots)
	tb.waitCount(t, "after A connected ($connect stores the id with the bundled aws-sdk v2, through AWS_ENDPOINT_URL_DYNAMODB)", 1)
	b := dial(t, "B (wss)", gw.WSS(), gw.Roots)
	c := dial(t, "C (ws)", gw.WS(), nil)
	tb.waitCount(t, "after three connects", 3)

	// Each client says something; everyone, the sender included, receives
	// {"message": "{id} says: {text}"}, where the handler's id is the
	// connection it posts to (sendWebSocketMessage labels the message with
	// its connectionId argument): each client learns its own id.
	ids := map[*wsClient]string{}
	clients := []*wsClient{a, b, c}
	for _, from := range clients {
		text := "hello from " + from.name
		from.send(t, text)
		for _, to := range clients {
			id := expectSays(t, to, text)
			if prev, ok := ids[to]; ok && prev != id {
				t.Fatalf("%s received messages labelled %q and %q: one connection, one id", to.name, prev, id)
			}
			ids[to] = id
		}
	}
	tb.waitKeys(t, "the stored connections", ids[a], ids[b], ids[c])

	// $disconnect deletes the id; broadcasts go on to those still there.
	c.close(t)
	tb.waitKeys(t, "after C closed", ids[a], ids[b])
	b.send(t, "C has left")
	for _, to := range []*wsClient{a, b} {
		if id := expectSays(t, to, "C has left"); id != ids[to] {
			t.Errorf("%s: the message is labelled %q, want its connection id %q", to.name, id, ids[to])
		}
	}
	a.close(t)
	b.close(t)
	tb.waitKeys(t, "after everyone closed")
}

var says = regexp.MustCompile(`^(\S+) says: (.*)$`)

// expectSays waits for messageHandler's {"message": "{id} says: {text}"}
// and returns the id.
func expectSays(t *testing.T, c *wsClient, text string) string {
	t.Helper()
	var id string
	c.expect(t, fmt.Sprintf("the broadcast of %q", text), func(m string) bool {
		var body struct{ Message string }
		if json.Unmarshal([]byte(m), &body) != nil {
			return false
		}
		sm := says.FindStringSubmatch(body.Message)
		if sm == nil || sm[2] != text {
			return false
		}
		id = sm[1]
		return true
	})
	return id
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
