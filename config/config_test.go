package config_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
)

// TestDocumentedExampleLoads keeps docs/config.md honest: its example must
// parse, and mean what its comments say.
func TestDocumentedExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml block in docs/config.md")
	}
	t.Setenv("SWITCHBOARD_SECRET", "from-env")
	f, err := config.Parse(m[1])
	if err != nil {
		t.Fatalf("documented example: %v", err)
	}
	rt := build(t, f, config.BuildEnv{})
	opts := rt.GatewayOptions()
	if f.Listen != "127.0.0.1:8080" || opts.Stage != "dev" || opts.RouteSelectionExpression != "$request.body.action" {
		t.Fatalf("listen %q stage %q expr %q", f.Listen, opts.Stage, opts.RouteSelectionExpression)
	}
	for _, key := range []string{"$connect", "$disconnect", "$default", "sendmessage", "echo"} {
		if _, ok := opts.Routes[key]; !ok {
			t.Fatalf("route %s missing", key)
		}
	}
	if !opts.Routes["echo"].RouteResponse || opts.Routes["sendmessage"].RouteResponse {
		t.Fatal("routeResponse not carried over")
	}
	if opts.Authorizer == nil || opts.Authorizer.IdentitySources[0] != "route.request.querystring.token" {
		t.Fatalf("authorizer %+v", opts.Authorizer)
	}
	if opts.Limits.IdleTimeout != 10*time.Minute || opts.Limits.MaxMessageBytes != 131072 || opts.Limits.ConnectRate != 500 {
		t.Fatalf("limits %+v", opts.Limits)
	}
	if opts.Credentials["AKIDSWITCHBOARDDEV"] != "from-env" {
		t.Fatalf("credentials %v", opts.Credentials)
	}
	if rt.Queue("fanout") == nil || rt.QueueAPI(nil) == nil {
		t.Fatal("queue fanout not built")
	}
	// And the gateway accepts what the config built.
	srv, err := gateway.New(opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv.Shutdown(t.Context())
}

func TestInvalidConfigsNameTheField(t *testing.T) {
	const base = "stage: dev\nrouteSelectionExpression: $request.body.action\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty file", "", "empty"},
		{"missing stage", "routeSelectionExpression: $request.body.action\n", "stage: required"},
		{"bad stage", "stage: a/b\nrouteSelectionExpression: $request.body.action\n", "stage:"},
		{"missing expression", "stage: dev\n", "routeSelectionExpression: required"},
		{"bad expression", "stage: dev\nrouteSelectionExpression: $request.header.x\n", "routeSelectionExpression:"},
		{"unknown field", base + "routs: {}\n", "routs: unknown field (did you mean routes?)"},
		{"misspelt routeResponse", base + "routes:\n  echo:\n    routeResponce: true\n    integration: {type: http, url: http://h/x}\n", "routeResponce"},
		{"dollar custom key", base + "routes:\n  $join:\n    integration: {type: http, url: http://h/x}\n", "routes.$join"},
		{"missing type", base + "routes:\n  echo:\n    integration: {url: http://h/x}\n", "routes.echo.integration: type: required"},
		{"unknown type", base + "routes:\n  echo:\n    integration: {type: grpc}\n", "routes.echo.integration: type: unknown"},
		{"bad url", base + "routes:\n  echo:\n    integration: {type: http, url: \"localhost:9001\"}\n", "routes.echo.integration: url:"},
		{"builtin without name", base + "routes:\n  echo:\n    integration: {type: builtin}\n", "routes.echo.integration: name: required"},
		{"authorizer without sources", base + "authorizer:\n  integration: {type: http, url: http://h/a}\n", "authorizer.identitySources: required"},
		{"bad identity source", base + "authorizer:\n  identitySources: [query.token]\n  integration: {type: http, url: http://h/a}\n", "authorizer.identitySources[0]"},
		{"bad duration", base + "limits:\n  idleTimeout: ten minutes\n", "limits.idleTimeout"},
		{"negative size", base + "limits:\n  maxMessageBytes: -1\n", "limits.maxMessageBytes"},
		{"frame over message", base + "limits:\n  maxMessageBytes: 100\n  maxFrameBytes: 200\n", "limits.maxFrameBytes"},
		{"lambda without path", base + "routes:\n  x:\n    integration: {type: lambda}\n", "routes.x.integration: path: required"},
		{"lambda not executable", base + "routes:\n  x:\n    integration: {type: lambda, path: /nonexistent/bootstrap}\n", "routes.x.integration: path:"},
		{"queue under a message", base + "limits:\n  sendQueueBytes: 1000\n", "limits.sendQueueBytes"},
		{"zero rate", base + "limits:\n  connectRate: 0\n", "limits.connectRate"},
		{"credential without secret", base + "management:\n  credentials:\n    - accessKeyId: AK\n", "management.credentials[0].secretAccessKey"},
		{"credential env unset", base + "management:\n  credentials:\n    - accessKeyId: AK\n      secretAccessKeyEnv: SWITCHBOARD_TEST_UNSET\n", "SWITCHBOARD_TEST_UNSET"},
		{"wrong yaml type", base + "limits:\n  maxMessageBytes: lots\n", "line 4"}, // yaml.v3 names the line
		{"bad queue name", base + "queues:\n  fan.out:\n    integration: {type: http, url: http://h/q}\n", "queues.fan.out"},
		{"queue without consumer", base + "queues:\n  fanout: {}\n", "queues.fanout.integration: type"},
		{"builtin queue consumer", base + "queues:\n  fanout:\n    integration: {type: builtin, name: x}\n", "queues.fanout.integration"},
		{"queue batch too big", base + "queues:\n  fanout:\n    batchSize: 11\n    integration: {type: http, url: http://h/q}\n", "queues.fanout.batchSize"},
		{"bad retry delay", base + "queues:\n  fanout:\n    retryDelay: soon\n    integration: {type: http, url: http://h/q}\n", "queues.fanout.retryDelay"},
		{"bad ping interval", base + "limits:\n  pingInterval: -5s\n", "limits.pingInterval"},
		{"zero missed pongs", base + "limits:\n  pingInterval: 30s\n  maxMissedPongs: 0\n", "limits.maxMissedPongs"},
		{"missed pongs without pings", base + "limits:\n  maxMissedPongs: 3\n", "limits.maxMissedPongs"},
		{"bad allowed host", base + "management:\n  allowedHosts: [\"http://gw.example\"]\n", "management.allowedHosts[0]"},
		{"bad allowed origin", base + "management:\n  allowedOrigins: [ok.example, \"https://ok.example\"]\n", "management.allowedOrigins[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := config.Parse([]byte("stage: dev\nrouteSelectionExpression: $request.body.action\nlimits:\n  idleTimeout: x\n  writeTimeout: y\n"))
	if err == nil || !strings.Contains(err.Error(), "limits.idleTimeout") || !strings.Contains(err.Error(), "limits.writeTimeout") {
		t.Fatalf("want both errors, got %v", err)
	}
}

// TestBuiltins: builtin integrations are looked up when the file is
// built, in BuildEnv.Builtins; a name it does not know is an error naming
// the field.
func TestBuiltins(t *testing.T) {
	echo := gateway.HandlerFunc(nil)
	builtins := func(name string) (gateway.Integration, gateway.Authorizer, bool) {
		return echo, nil, name == "echo"
	}
	f, err := config.Parse([]byte("stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n  x:\n    integration: {type: builtin, name: echo}\n  y:\n    integration: {type: builtin, name: nope}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Build(t.Context(), config.BuildEnv{Builtins: builtins}); err == nil || !errors.Is(err, config.ErrInvalid) ||
		!strings.Contains(err.Error(), `routes.y.integration: name: unknown builtin handler "nope"`) {
		t.Fatalf("an unknown builtin: %v", err)
	}
	if _, err := f.Build(t.Context(), config.BuildEnv{}); err == nil || !strings.Contains(err.Error(), "routes.x.integration: name: no builtin handlers are available") {
		t.Fatalf("no builtins: %v", err)
	}
	delete(f.Routes, "y")
	rt := build(t, f, config.BuildEnv{Builtins: builtins})
	if opts := rt.GatewayOptions(); opts.Routes["x"].Integration == nil {
		t.Fatalf("routes %+v", opts.Routes)
	}
	f, err = config.Parse([]byte("stage: dev\nrouteSelectionExpression: $request.body.action\nauthorizer:\n  identitySources: [route.request.querystring.t]\n  integration: {type: builtin, name: echo}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Build(t.Context(), config.BuildEnv{Builtins: builtins}); err == nil || !strings.Contains(err.Error(), "authorizer.integration") {
		t.Fatalf("a route handler used as authorizer: %v", err)
	}
}

func TestEnvironmentExpansion(t *testing.T) {
	t.Setenv("SB_TEST_HANDLER", "http://127.0.0.1:9999")
	doc := "stage: dev\nrouteSelectionExpression: ${SB_TEST_EXPR:-$request.body.action}\nstageVariables:\n  price: $$5\nroutes:\n  x:\n    integration: {type: http, url: \"${SB_TEST_HANDLER}/x\"}\n"
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if f.RouteSelectionExpression != "$request.body.action" || f.StageVariables["price"] != "$5" || f.Routes["x"].Integration.URL != "http://127.0.0.1:9999/x" {
		t.Fatalf("expr %q price %q routes %+v", f.RouteSelectionExpression, f.StageVariables["price"], f.Routes)
	}
	// Route selection templates are not environment references.
	f, err = config.Parse([]byte("stage: dev\nrouteSelectionExpression: ${request.body.service}/${request.body.action}\n"))
	if err != nil || f.RouteSelectionExpression != "${request.body.service}/${request.body.action}" {
		t.Fatalf("template expression: %+v %v", f, err)
	}
	_, err = config.Parse([]byte("stage: ${SB_TEST_UNSET_VAR}\n"))
	if err == nil || !strings.Contains(err.Error(), "SB_TEST_UNSET_VAR is not set") {
		t.Fatalf("unset variable: %v", err)
	}
}

// TestLambdaIntegrationsShareFunctions: routes with the same lambda
// integration are one function, as on AWS; different ones need different
// names.
func TestLambdaIntegrationsShareFunctions(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fn := func(handler, name string) string {
		return "{type: lambda, path: " + exe + ", handler: " + handler + name + "}"
	}
	doc := "stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n" +
		"  a: {integration: " + fn("message", "") + "}\n  b: {integration: " + fn("message", "") + "}\n  c: {integration: " + fn("connect", "") + "}\n"
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	opts := build(t, f, config.BuildEnv{}).GatewayOptions()
	if opts.Routes["a"].Integration != opts.Routes["b"].Integration {
		t.Fatal("two routes with the same integration got two functions")
	}
	if opts.Routes["a"].Integration == opts.Routes["c"].Integration {
		t.Fatal("different handlers share a function")
	}
	clash := "stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n" +
		"  a: {integration: " + fn("message", ", functionName: chat") + "}\n  b: {integration: " + fn("connect", ", functionName: chat") + "}\n"
	if _, err := config.Parse([]byte(clash)); err == nil || !strings.Contains(err.Error(), `"chat" names two different functions`) {
		t.Fatalf("one name for two functions: %v", err)
	}
}

// build builds f, and closes what it built when the test ends.
func build(t *testing.T, f *config.File, env config.BuildEnv) *config.Runtime {
	t.Helper()
	rt, err := f.Build(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("closing the runtime: %v", err)
		}
	})
	return rt
}
