package bench

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestClientsCloseWithACloseFrame: after a scenario the bench's clients
// end with a close handshake, so the server counts them as closed by the
// client, not as dropped (1006).
func TestClientsCloseWithACloseFrame(t *testing.T) {
	t.Parallel()
	sb, _ := servers(t)
	const conns = 30
	cfg := parse(t, "connect", "--conns", "30", "--concurrency", "4")
	cfg.Targets = []*Target{sb}
	cfg.Target = sb.Name
	if _, err := Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	u, err := metricsURL(sb.URL)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	closed := func() float64 {
		var sum float64
		for k, v := range m {
			if strings.HasPrefix(k, "switchboard_connections_closed_total{") {
				sum += v
			}
		}
		return sum
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, value, ok := strings.Cut(sc.Text(), " "); ok && !strings.HasPrefix(name, "#") {
				m[name], _ = strconv.ParseFloat(value, 64)
			}
		}
		return closed() >= conns
	}, "the server saw %v of %d connections close", closed(), conns)
	if d, c := m[`switchboard_connections_closed_total{cause="dropped"}`], m[`switchboard_connections_closed_total{cause="client"}`]; d != 0 || c != conns {
		t.Errorf("server counted %v dropped and %v closed by the client; want 0 and %d", d, c, conns)
	}
}

// The description of a --url target without --pid says where its memory
// figures come from, and does not deny the metrics endpoint it reads.
func TestURLTargetSaysWhereMemoryComesFrom(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := auth.LoadOrCreateDevSecret(dir); err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, "idle", "--url", "ws://127.0.0.1:1/dev", "--data", dir)
	tg, err := openTarget(context.Background(), cfg, TargetSwitchboard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tg.How, "GET /metrics") || strings.Contains(tg.How, "no metrics endpoint") {
		t.Errorf("target description %q", tg.How)
	}
}
