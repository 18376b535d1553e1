package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/config"
)

// clusterSecretEnv holds the embedded NATS routes' shared secret when
// --cluster-secret is not given.
const clusterSecretEnv = "SWITCHBOARD_CLUSTER_SECRET"

// clusterFlags join a cluster of gateway nodes (docs/cluster.md).
type clusterFlags struct {
	url, listen, peers, secret, api string
	// With --cluster: a NATS credentials file or an nkey seed file.
	creds, nkey string
	// With --cluster-listen: mutual TLS on the routes.
	routeCert, routeKey, routeCA string
}

func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	f := &clusterFlags{}
	fs.StringVar(&f.url, "cluster", "", "join a cluster through this external NATS: nats://user:pass@host:4222 (or tls://; several comma-separated); docs/cluster.md")
	fs.StringVar(&f.listen, "cluster-listen", "", "join a cluster by running an embedded NATS whose routes listen here (host:port, e.g. 127.0.0.1:6222), with --cluster-peers and the secret in "+clusterSecretEnv)
	fs.StringVar(&f.peers, "cluster-peers", "", "with --cluster-listen: the other nodes' route addresses, comma-separated (host1:6222,host2:6222)")
	fs.StringVar(&f.secret, "cluster-secret", "", "with --cluster-listen: the routes' shared password (default: $"+clusterSecretEnv+"; prefer the variable, flags show in ps)")
	fs.StringVar(&f.creds, "cluster-creds", "", "with --cluster: a NATS credentials file (.creds: user JWT and nkey seed, for a NATS in operator mode)")
	fs.StringVar(&f.nkey, "cluster-nkey", "", "with --cluster: a file holding an nkey user seed (SU...), for a NATS user listed by its public nkey")
	fs.StringVar(&f.routeCert, "cluster-route-cert", "", "with --cluster-listen: this node's certificate (PEM, for server and client authentication): mutual TLS on the routes, with --cluster-route-key and --cluster-route-ca")
	fs.StringVar(&f.routeKey, "cluster-route-key", "", "with --cluster-listen: the key of --cluster-route-cert (PEM)")
	fs.StringVar(&f.routeCA, "cluster-route-ca", "", "with --cluster-listen: the CA (PEM) that signed every node's route certificate; peers it did not sign are refused")
	fs.StringVar(&f.api, "cluster-api", "", "the cluster's subject namespace (default: <apiId>-<stage>)")
	return f
}

// set reports whether a cluster flag was given.
func (f *clusterFlags) set() bool { return f.url != "" || f.listen != "" }

// config is the node's configuration: from the flags when given, else from
// the config file's cluster section (file may be nil); nil when neither.
func (f *clusterFlags) config(file *config.File, apiID, stage string, maxMessageBytes int, log *slog.Logger) (*cluster.Config, error) {
	var cfg cluster.Config
	if f.listen == "" && (f.peers != "" || f.secret != "" || f.routeCert != "" || f.routeKey != "" || f.routeCA != "") {
		return nil, fmt.Errorf("--cluster-peers, --cluster-secret and --cluster-route-cert, -key, -ca go with --cluster-listen")
	}
	if f.url == "" && (f.creds != "" || f.nkey != "") {
		return nil, fmt.Errorf("--cluster-creds and --cluster-nkey go with --cluster (an external NATS)")
	}
	if err := f.checkFiles(); err != nil {
		return nil, err
	}
	switch {
	case f.set():
		if f.url != "" && f.listen != "" {
			return nil, fmt.Errorf("give --cluster (an external NATS) or --cluster-listen (the embedded one), not both")
		}
		cfg = cluster.Config{API: f.api, URL: f.url, Listen: f.listen, Secret: f.secret, CredsFile: f.creds, NkeyFile: f.nkey,
			RouteCertFile: f.routeCert, RouteKeyFile: f.routeKey, RouteCAFile: f.routeCA}
		if cfg.API == "" {
			cfg.API = config.DefaultClusterAPI(apiID, stage)
		}
		if f.listen != "" && cfg.Secret == "" {
			cfg.Secret = os.Getenv(clusterSecretEnv)
		}
		for _, p := range strings.Split(f.peers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.Peers = append(cfg.Peers, p)
			}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("cluster flags: %w", err)
		}
	case file != nil && file.Cluster != nil:
		var err error
		if cfg, err = file.Cluster.ClusterConfig(apiID, stage); err != nil {
			return nil, err
		}
		if f.api != "" {
			cfg.API = f.api
		}
	default:
		return nil, nil
	}
	cfg.MaxMessageBytes = maxMessageBytes
	cfg.Logger = log
	return &cfg, nil
}

// checkFiles checks that the files the flags name can be read: an error
// names the flag (the content is read again, and checked, at join).
func (f *clusterFlags) checkFiles() error {
	for _, ff := range []struct{ flag, path string }{
		{"--cluster-creds", f.creds}, {"--cluster-nkey", f.nkey},
		{"--cluster-route-cert", f.routeCert}, {"--cluster-route-key", f.routeKey}, {"--cluster-route-ca", f.routeCA},
	} {
		if ff.path == "" {
			continue
		}
		fh, err := os.Open(ff.path)
		if err != nil {
			return fmt.Errorf("%s: %w", ff.flag, err)
		}
		fh.Close()
	}
	return nil
}

// joinCluster joins cfg's cluster (nil: none).
func joinCluster(ctx context.Context, cfg *cluster.Config) (*cluster.Node, error) {
	if cfg == nil {
		return nil, nil
	}
	jctx, cancel := context.WithTimeout(ctx, cluster.DefaultJoinTimeout)
	defer cancel()
	return cluster.Join(jctx, *cfg)
}

// leaveCluster closes node (nil: none) once the gateway has shut down.
func leaveCluster(node *cluster.Node, log *slog.Logger) {
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Close(ctx); err != nil {
		log.Warn("cluster: leaving", "err", err)
	}
}
