package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterFlagsRefused: conflicting or incomplete cluster settings stop
// serve and dev before anything listens, saying what is wrong.
func TestClusterFlagsRefused(t *testing.T) {
	t.Setenv(clusterSecretEnv, "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "api.yaml")
	os.WriteFile(cfg, []byte("stage: dev\nrouteSelectionExpression: $request.body.action\n"), 0o600)
	badCfg := filepath.Join(dir, "bad.yaml")
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	os.WriteFile(badCfg, []byte("stage: dev\nrouteSelectionExpression: $request.body.action\ncluster: {listen: \"127.0.0.1:0\"}\n"), 0o600)
	for _, tc := range []struct {
		name string
		run  func(context.Context, []string, *strings.Builder, *strings.Builder) error
		args []string
		want string
	}{
		{"both", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-listen", "127.0.0.1:0"}, "not both"},
		{"peers without listen", serve, []string{"--config", cfg, "--cluster-peers", "127.0.0.1:6222"}, "--cluster-peers, --cluster-secret and --cluster-route-cert, -key, -ca go with --cluster-listen"},
		{"no secret", serve, []string{"--config", cfg, "--cluster-listen", "127.0.0.1:0"}, "secret: required"},
		{"bad url", serve, []string{"--config", cfg, "--cluster", "127.0.0.1:4222"}, "url:"},
		{"config without secret", serve, []string{"--config", badCfg}, "cluster.secret: required"},
		{"nats unreachable", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1"}, "connect to NATS nats://127.0.0.1:1"},
		{"route cert without listen", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-route-cert", junk}, "go with --cluster-listen"},
		{"route TLS half set", serve, []string{"--config", cfg, "--cluster-listen", "127.0.0.1:0", "--cluster-secret", "s", "--cluster-route-cert", junk}, "routeCertFile, routeKeyFile and routeCAFile: set all three"},
		{"route cert missing", serve, []string{"--config", cfg, "--cluster-listen", "127.0.0.1:0", "--cluster-secret", "s", "--cluster-route-cert", missing, "--cluster-route-key", junk, "--cluster-route-ca", junk}, "--cluster-route-cert: open " + missing},
		{"route cert not PEM", serve, []string{"--config", cfg, "--cluster-listen", "127.0.0.1:0", "--cluster-secret", "s", "--cluster-route-cert", junk, "--cluster-route-key", junk, "--cluster-route-ca", junk}, "route TLS"},
		{"creds without url", serve, []string{"--config", cfg, "--cluster-listen", "127.0.0.1:0", "--cluster-secret", "s", "--cluster-creds", junk}, "--cluster-creds and --cluster-nkey go with --cluster"},
		{"creds and nkey", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-creds", junk, "--cluster-nkey", junk}, "credsFile and nkeyFile: set one"},
		{"creds missing", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-creds", missing}, "--cluster-creds: open " + missing},
		{"creds not creds", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-creds", junk}, "credsFile " + junk + ": not a NATS credentials file"},
		{"nkey not a seed", serve, []string{"--config", cfg, "--cluster", "nats://127.0.0.1:1", "--cluster-nkey", junk}, "nkeyFile " + junk + ": not an nkey user seed"},
		{"nkey with user in url", serve, []string{"--config", cfg, "--cluster", "nats://u:p@127.0.0.1:1", "--cluster-nkey", junk}, "not with user"},
		{"dev with its own store", dev, []string{"--data", t.TempDir(), "--cluster-listen", "127.0.0.1:0", "--cluster-secret", "s"}, "need a store the nodes share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := tc.run(context.Background(), append(tc.args, "--addr", "127.0.0.1:0", "--no-tls"), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want an error with %q", err, tc.want)
			}
		})
	}
}

func serve(ctx context.Context, args []string, stdout, stderr *strings.Builder) error {
	return runServe(ctx, args, stdout, stderr)
}

func dev(ctx context.Context, args []string, stdout, stderr *strings.Builder) error {
	return runDev(ctx, args, stdout, stderr)
}
