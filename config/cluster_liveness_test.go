package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/config"
)

// The dead-node detection's settings: read, and refused with the field
// named when they are not durations or do not fit together.
func TestClusterLivenessSettings(t *testing.T) {
	const base = "stage: dev\nrouteSelectionExpression: $request.body.action\ncluster:\n  url: nats://h:4222\n"
	f, err := config.Parse([]byte(base + "  beatInterval: 2s\n  deadAfter: 10s\n  routePingInterval: 7s\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Cluster.ClusterConfig("", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BeatInterval != 2*time.Second || cfg.DeadAfter != 10*time.Second || cfg.RoutePingInterval != 7*time.Second {
		t.Errorf("beat %v, dead after %v, route pings %v; want 2s, 10s, 7s", cfg.BeatInterval, cfg.DeadAfter, cfg.RoutePingInterval)
	}
	for yaml, want := range map[string]string{
		"  beatInterval: often\n":               "cluster.beatInterval",
		"  deadAfter: -5s\n":                    "cluster.deadAfter",
		"  routePingInterval: 0s\n":             "cluster.routePingInterval",
		"  routePingInterval: 1m\n":             "routePingInterval: 1m0s is not between 0 and 30s",
		"  beatInterval: 3s\n  deadAfter: 5s\n": "cluster.deadAfter: 5s must be at least twice beatInterval",
	} {
		_, err := config.Parse([]byte(base + yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", yaml, err, want)
		}
	}
}
