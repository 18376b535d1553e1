package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/sigv4"
)

func TestBatchPost(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxMessageBytes: 1000}}, "$connect")
	a := g.dial(t, "", nil)
	b := g.dial(t, "", nil)
	ids := []string{g.connID(t, 0), g.connID(t, 1), "AAAAAAAAAAAAAAA="}
	post := func(body string) (*http.Response, map[string]any) {
		resp, err := http.Post(g.http.URL+"/dev"+gateway.BatchPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	body, _ := json.Marshal(map[string]any{"connectionIds": ids, "data": `{"hello":"all"}`})
	resp, out := post(string(body))
	if resp.StatusCode != 200 || resp.Header.Get("X-Switchboard") == "" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	if gone, _ := out["gone"].([]any); len(gone) != 1 || gone[0] != "AAAAAAAAAAAAAAA=" {
		t.Fatalf("gone %v", out["gone"])
	}
	if failed, ok := out["failed"].([]any); !ok || len(failed) != 0 {
		t.Fatalf("failed %v, want [] (one node)", out["failed"])
	}
	if got := readText(t, a); got != `{"hello":"all"}` {
		t.Fatalf("a got %q", got)
	}
	if got := readText(t, b); got != `{"hello":"all"}` {
		t.Fatalf("b got %q", got)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`not json`, 400},
		{`{"connectionIds":["x"]}`, 400},
		{`{"connectionIds":["bad id"],"data":"x"}`, 400},
		{`{"connectionIds":[],"data":"` + strings.Repeat("x", 1001) + `"}`, 413},
	} {
		if resp, _ := post(tc.body); resp.StatusCode != tc.want {
			t.Fatalf("%.40s: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
}

func TestBatchPostRequiresSignatureWithCredentials(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Credentials: sigv4.Credentials{"AKID": "secret"}})
	resp, err := http.Post(g.http.URL+"/dev"+gateway.BatchPath, "application/json", strings.NewReader(`{"connectionIds":[],"data":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("unsigned batch: %d", resp.StatusCode)
	}
}
