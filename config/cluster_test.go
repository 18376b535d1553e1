package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/config"
)

func TestClusterSectionErrorsNameTheField(t *testing.T) {
	const base = "stage: dev\nrouteSelectionExpression: $request.body.action\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"neither url nor listen", base + "cluster: {api: x}\n", "cluster.url or listen"},
		{"both", base + "cluster: {url: \"nats://h:4222\", listen: \"127.0.0.1:6222\", secret: s}\n", "cluster.url and listen"},
		{"listen without secret", base + "cluster: {listen: \"127.0.0.1:6222\"}\n", "cluster.secret: required"},
		{"bad peer", base + "cluster: {listen: \"127.0.0.1:6222\", secret: s, peers: [nohost]}\n", "cluster.peers[0]"},
		{"secret env unset", base + "cluster: {listen: \"127.0.0.1:6222\", secretEnv: SWITCHBOARD_TEST_UNSET}\n", "cluster.secretEnv"},
		{"password twice", base + "cluster: {url: \"nats://h:4222\", user: u, password: p, passwordEnv: X}\n", "cluster.password"},
		{"bad timeout", base + "cluster: {url: \"nats://h:4222\", requestTimeout: soon}\n", "cluster.requestTimeout"},
		{"bad api", base + "cluster: {url: \"nats://h:4222\", api: \"a.b\"}\n", "cluster.api"},
		{"route TLS half set", base + "cluster: {listen: \"127.0.0.1:6222\", secret: s, routeCertFile: c.pem}\n", "cluster.routeCertFile, routeKeyFile and routeCAFile"},
		{"creds and nkey", base + "cluster: {url: \"nats://h:4222\", credsFile: a.creds, nkeyFile: b.nk}\n", "cluster.credsFile and nkeyFile: set one"},
		{"creds with a password", base + "cluster: {url: \"nats://h:4222\", credsFile: a.creds, user: u, password: p}\n", "cluster.credsFile and nkeyFile: not with user"},
		{"nkey with embedded", base + "cluster: {listen: \"127.0.0.1:6222\", secret: s, nkeyFile: b.nk}\n", "only with url"},
		{"unknown field", base + "cluster: {url: \"nats://h:4222\", pasword: x}\n", "pasword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if tc.name != "unknown field" && !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %q is not ErrInvalid", err)
			}
		})
	}
	t.Setenv("SWITCHBOARD_TEST_CLUSTER_SECRET", "from-env")
	f, err := config.Parse([]byte(base + "cluster:\n  listen: 127.0.0.1:6222\n  peers: [10.0.0.2:6222]\n  secretEnv: SWITCHBOARD_TEST_CLUSTER_SECRET\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Cluster.ClusterConfig(f.APIID, f.Stage)
	if err != nil || cfg.Secret != "from-env" || cfg.API != "local-dev" || cfg.Peers[0] != "10.0.0.2:6222" {
		t.Fatalf("%+v %v", cfg, err)
	}
}
