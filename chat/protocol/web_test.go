package protocol

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// web/client.js (and the app on it, web/app.js) cannot import this
// package: their action names, broadcast types, reply types and error
// codes are checked against it here, so that the two cannot drift.

// clientOwnCodes are the codes client.js makes up itself (documented at
// its top; ERROR when an error reply lacks a code): never the server's.
var clientOwnCodes = []string{"TIMEOUT", "DISCONNECTED", "CLOSED", "ERROR"}

func readJS(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../web/" + name)
	if err != nil {
		t.Fatalf("reading the web client: %v", err)
	}
	return string(b)
}

func matches(re *regexp.Regexp, src string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

func TestWebClientActions(t *testing.T) {
	t.Parallel()
	src := readJS(t, "client.js")
	sent := matches(regexp.MustCompile(`\b(?:request|_do)\(\s*'([^']*)'`), src)
	if len(sent) == 0 {
		t.Fatal("found no action client.js sends (the pattern request('name' / _do('name' no longer matches)")
	}
	for _, a := range sent {
		if !slices.Contains(Actions, a) {
			t.Errorf("client.js sends action %q, which the protocol does not have", a)
		}
	}
	for _, a := range Actions {
		if a != ActionPing && !slices.Contains(sent, a) {
			t.Errorf("client.js has no method for the protocol's action %q", a)
		}
	}
}

func TestWebClientBroadcasts(t *testing.T) {
	t.Parallel()
	src := readJS(t, "client.js")
	m := regexp.MustCompile(`const BROADCASTS = \[([^\]]*)\]`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("client.js has no BROADCASTS list")
	}
	got := matches(regexp.MustCompile(`'([^']*)'`), m[1])
	if !slices.Equal(got, Broadcasts) {
		t.Errorf("client.js's BROADCASTS = %q, the protocol's are %q", got, Broadcasts)
	}
	for _, typ := range []string{ReplySuccess, ReplyError} {
		if !regexp.MustCompile(`f\.type === '` + typ + `'`).MatchString(src) {
			t.Errorf("client.js does not tell %q replies by f.type", typ)
		}
	}
}

func TestWebClientErrorCodes(t *testing.T) {
	t.Parallel()
	for _, c := range clientOwnCodes {
		if slices.Contains(Codes, c) {
			t.Errorf("client.js's own code %s is also a server code", c)
		}
	}
	// A code is a string literal compared with .code, thrown as a
	// SwitchboardError, a fallback of f.code, or a case of a switch on a
	// code.
	codeRe := regexp.MustCompile(`(?:code\s*[!=]==?\s*|SwitchboardError\(\s*|code\s*\|\|\s*|case\s+)'([A-Z][A-Z_]+)'`)
	for _, name := range []string{"client.js", "app.js"} {
		found := matches(codeRe, readJS(t, name))
		if len(found) == 0 {
			t.Errorf("found no error code in %s (the pattern no longer matches)", name)
		}
		for _, c := range found {
			if !slices.Contains(Codes, c) && !slices.Contains(clientOwnCodes, c) {
				t.Errorf("%s uses error code %q, which is neither the protocol's nor client.js's own", name, c)
			}
		}
	}
}
