package seedtest

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// TestSeed004 runs seed 004 ("How to build real-time applications using
// WebSockets with AWS API Gateway and Lambda": console-made JavaScript
// functions with aws-sdk v2 and the post's patch.js): $connect and
// $disconnect keep the Chat table, and the onMessage route echoes
// "Echo: {message}" to every stored connection through a management API
// client whose endpoint is domainName/stage without a scheme (aws-sdk v2
// then uses https).
func TestSeed004(t *testing.T) {
	t.Parallel()
	requireNode(t, "seed004")
	dir := testdata("seed004")

	// The two ways of describing the app share the table the code
	// hard-codes, so they run one after the other.
	t.Run("config", func(t *testing.T) {
		// "create a new table called Chat. Add primary key as
		// 'connectionid'": the test creates it, as the console step does.
		tb := createTable(t, "Chat", "connectionid")
		gw := startServe(t, serveOptions{Config: filepath.Join(dir, "api.yaml"), Dir: dir})
		chatSeed004(t, gw, tb)
	})
	t.Run("template", func(t *testing.T) {
		// The same app as a SAM template: serve creates the table.
		tb := dropTable(t, "Chat", "connectionid")
		gw := startServe(t, serveOptions{Dir: dir, Args: []string{"--template", "template.yaml"}})
		chatSeed004(t, gw, tb)
	})
}

// chatSeed004 is the post's test: devices connect (the table lists them),
// one sends {"action" : "onMessage" , "message" : ...} and every device
// gets "Echo: ...", a device disconnects (the table forgets it).
func chatSeed004(t *testing.T, gw *server, tb *table) {
	a := dial(t, "A (wss)", gw.WSS(), gw.Roots)
	b := dial(t, "B (wss)", gw.WSS(), gw.Roots)
	c := dial(t, "C (ws)", gw.WS(), nil)
	tb.waitCount(t, "after three connects", 3)

	// "issue the following JSON to send messages": every connected device
	// gets the echo, the sender included.
	a.send(t, `{"action" : "onMessage" , "message" : "Hello everyone"}`)
	for _, to := range []*wsClient{a, b, c} {
		to.expect(t, `"Echo: Hello everyone"`, func(m string) bool { return m == "Echo: Hello everyone" })
	}
	c.send(t, `{"action":"onMessage","message":"from the plain ws:// client"}`)
	for _, to := range []*wsClient{a, b, c} {
		to.expect(t, "C's echo", func(m string) bool { return m == "Echo: from the plain ws:// client" })
	}

	// No $default route ("I will leave the implementation of that route to
	// you"): any other action gets API Gateway's Forbidden frame.
	b.send(t, `{"action":"somethingElse","message":"lost"}`)
	b.expect(t, "the Forbidden frame", func(m string) bool {
		var f struct{ Message, ConnectionID, RequestID string }
		return json.Unmarshal([]byte(m), &f) == nil && f.Message == "Forbidden" && f.ConnectionID != "" && f.RequestID != ""
	})

	// "pressing CTRL + C which will simulate a disconnection": the
	// disconnect function deletes the connection's item.
	before := tb.keys(t)
	c.close(t)
	after := tb.waitCount(t, "after C closed", 2)
	for _, id := range after {
		if !slices.Contains(before, id) {
			t.Errorf("after C closed the table holds %q, which was not there before (%q)", id, before)
		}
	}
	a.send(t, `{"action":"onMessage","message":"C is gone"}`)
	for _, to := range []*wsClient{a, b} {
		to.expect(t, "the echo after C left", func(m string) bool { return m == "Echo: C is gone" })
	}
	a.close(t)
	b.close(t)
	tb.waitKeys(t, "after everyone closed")
}
