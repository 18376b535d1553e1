package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/config"
)

// The limits of the listener and of each source address (issue 12): a
// value out of range is refused with an error naming the key.
func TestListenerLimitsInvalid(t *testing.T) {
	const base = "stage: dev\nrouteSelectionExpression: $request.body.action\nlimits:\n"
	for _, tc := range []struct{ yaml, want string }{
		{"  httpReadTimeout: soon\n", "limits.httpReadTimeout"},
		{"  httpWriteTimeout: -5s\n", "limits.httpWriteTimeout"},
		{"  httpIdleTimeout: 0s\n", "limits.httpIdleTimeout"},
		{"  maxConnections: 0\n", "limits.maxConnections"},
		{"  maxConnections: -2\n", "limits.maxConnections"},
		{"  maxSourceConnections: -7\n", "limits.maxSourceConnections"},
		{"  maxSources: -1\n", "limits.maxSources"},
		{"  maxSources: 0\n", "limits.maxSources"},
		{"  sourceConnectRate: 0\n", "limits.sourceConnectRate"},
		{"  sourceConnectRate: -3\n", "limits.sourceConnectRate"},
		{"  sourceConnectRate: .nan\n", "limits.sourceConnectRate"},
		{"  sourceConnectRate: .inf\n", "limits.sourceConnectRate"},
	} {
		_, err := config.Parse([]byte(base + tc.yaml))
		if err == nil {
			t.Errorf("accepted: %s", tc.yaml)
			continue
		}
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name %q", strings.TrimSpace(tc.yaml), err, tc.want)
		}
	}
}

func TestListenerLimitsCarriedOver(t *testing.T) {
	f, err := config.Parse([]byte(`stage: dev
routeSelectionExpression: $request.body.action
limits:
  httpReadTimeout: 5s
  httpWriteTimeout: none
  httpIdleTimeout: 2m
  maxConnections: 100
  sourceConnectRate: 2.5
  maxSourceConnections: -1
  maxSources: 1000
`))
	if err != nil {
		t.Fatal(err)
	}
	l := build(t, f, config.BuildEnv{}).GatewayOptions().Limits
	if l.HTTPReadTimeout != 5*time.Second || l.HTTPWriteTimeout != -1 || l.HTTPIdleTimeout != 2*time.Minute ||
		l.MaxConnections != 100 || l.SourceConnectRate != 2.5 || l.MaxSourceConnections != -1 || l.MaxSources != 1000 {
		t.Fatalf("limits %+v", l)
	}
}
