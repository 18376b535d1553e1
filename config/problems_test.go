package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/config"
)

// A newcomer's file with several mistakes gets all of them at once, each
// with its YAML path and position, a "did you mean" for a misspelt key,
// and no Go type names.
func TestProblemsAtOnceWithPathsAndPositions(t *testing.T) {
	t.Parallel()
	doc := `stage: dev
routeSelectionExpression: $request.body.action
routes:
  echo:
    routeRespnse: true
    integration: {type: http, url: "localhost:9001"}
limits:
  connectRate: -3
  maxMessageBytes: lots
  idleTimout: 10m
management:
  credentials:
    - accessKeyId: AK
      secretAccesKey: x
`
	path := filepath.Join(t.TempDir(), "api.yaml")
	os.WriteFile(path, []byte(doc), 0o644)
	_, err := config.Load(path)
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Load: %v", err)
	}
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not a *config.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{
		path + ": invalid config: 7 problems:\n",
		"  line 5, column 5: routes.echo.routeRespnse: unknown field (did you mean routeResponse?)\n",
		"  line 6, column 36: routes.echo.integration: url: want an http:// or https:// URL",
		"  line 8, column 16: limits.connectRate: want a positive number of connections per second, or -1 for no limit (got -3)\n",
		"  line 9, column 20: limits.maxMessageBytes: want a whole number (got \"lots\")\n",
		"  line 10, column 3: limits.idleTimout: unknown field (did you mean idleTimeout?)\n",
		"  line 14, column 7: management.credentials[0].secretAccesKey: unknown field (did you mean secretAccessKey?)\n",
		"management.credentials[0].secretAccessKey: required",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	for _, leak := range []string{"config.", "not found in type", "cannot unmarshal", "!!str"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the error names Go or YAML internals (%q):\n%s", leak, msg)
		}
	}
}

// A YAML syntax error is reported alone (nothing after it can be read),
// with its line and the text there.
func TestSyntaxErrorNamesTheLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, want string }{
		{"stage: dev\nroutes:\n  echo: x\n sendmessage: y\n", "line 3: YAML syntax error: did not find expected key"},
		{"stage: dev\nroutes:\n\techo: {}\n", "line 3: YAML syntax error: found character that cannot start any token (a tab: YAML indents with spaces)"},
		{"stage: dev\n- item\n", "YAML syntax error"},
	} {
		_, err := config.Parse([]byte(tc.doc))
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.HasPrefix(strings.TrimPrefix(err.Error(), "invalid config: "), "yaml:") {
			t.Errorf("%q: %v; want %q", tc.doc, err, tc.want)
		}
	}
}

// Rates must be positive, or -1 for none: -3 is not a spelling of -1.
func TestConnectRateMustBePositiveOrMinusOne(t *testing.T) {
	t.Parallel()
	const base = "stage: dev\nrouteSelectionExpression: $request.body.action\nlimits:\n  connectRate: "
	for _, v := range []string{"-3", "-0.5", "0", ".nan", ".inf", "-.inf"} {
		_, err := config.Parse([]byte(base + v + "\n"))
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "line 4, column 16: limits.connectRate:") {
			t.Errorf("connectRate %s: %v", v, err)
		}
	}
	for v, want := range map[string]float64{"-1": -1, "2.5": 2.5} {
		f, err := config.Parse([]byte(base + v + "\n"))
		if err != nil {
			t.Fatalf("connectRate %s: %v", v, err)
		}
		if rt := build(t, f, config.BuildEnv{}); rt.GatewayOptions().Limits.ConnectRate != want {
			t.Errorf("connectRate %s: %v", v, rt.GatewayOptions().Limits.ConnectRate)
		}
	}
}
