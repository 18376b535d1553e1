package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// metricName finds the metric names in a PromQL expression: the
// identifiers of the families Switchboard serves.
var metricName = regexp.MustCompile(`\b(?:switchboard|go|process)_[a-zA-Z0-9_]+\b`)

// TestGrafanaDashboardQueriesServedMetrics: every metric the dashboard in
// deploy/grafana queries is a family that switchboard dev's GET /metrics
// serves (a histogram's _bucket, _sum and _count included), after a client
// connected and sent a message; and every panel reads the dashboard's
// Prometheus data source.
func TestGrafanaDashboardQueriesServedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("grafana/switchboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana/switchboard.json: %v", err)
	}
	queried := map[string]string{} // metric -> panel
	for _, p := range dash.Panels {
		if p.Datasource.UID != "${DS_PROMETHEUS}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, tg := range p.Targets {
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				queried[n] = p.Title
			}
		}
	}

	served := servedFamilies(t)
	for name, panel := range queried {
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && served[base] == "histogram" {
				family = base
			}
		}
		if _, ok := served[family]; !ok {
			t.Errorf("panel %q queries %s, which GET /metrics does not serve", panel, name)
		}
		if family != name && served[family] != "histogram" {
			t.Errorf("panel %q queries %s of %s, a %s", panel, name, family, served[family])
		}
	}
}

// servedFamilies runs switchboard dev's stack, has one client connect and
// send a message, and returns the metric families of GET /metrics (# TYPE).
func servedFamilies(t *testing.T) map[string]string {
	t.Helper()
	st, err := devstack.New(devstack.Options{DataDir: t.TempDir(), SweepInterval: time.Hour, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st.Close(ctx)
	})
	tok, err := st.Token("ada", "ada", "demo", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(st.URL()+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"action":"createRoom","data":{"name":"ops"},"requestId":"r1"}`)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("no reply to createRoom: %v", err)
		}
		if strings.Contains(string(p), `"requestId":"r1"`) {
			break
		}
	}
	resp, err := http.Get("http://" + st.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = f[3]
		}
	}
	if families["switchboard_store_duration_seconds"] != "histogram" {
		t.Fatalf("GET /metrics serves no store histogram: %v", families)
	}
	return families
}
