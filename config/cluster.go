package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/switchboard-ws/switchboard/cluster"
)

// Cluster makes serve one node of several that share the API's connection
// namespace over NATS (docs/cluster.md): through an external NATS (url,
// with user and password, a token, TLS files) or an embedded NATS server
// on each node (listen, peers, secret). Secrets may come from the
// environment (passwordEnv, tokenEnv, secretEnv).
type Cluster struct {
	// API is the subject namespace; default "<apiId>-<stage>".
	API string `yaml:"api"`

	URL         string `yaml:"url"`
	User        string `yaml:"user"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"passwordEnv"`
	Token       string `yaml:"token"`
	TokenEnv    string `yaml:"tokenEnv"`
	CAFile      string `yaml:"caFile"`
	CertFile    string `yaml:"certFile"`
	KeyFile     string `yaml:"keyFile"`
	TLS         bool   `yaml:"tls"`
	// CredsFile is a NATS .creds file (user JWT and nkey seed: operator
	// mode); NkeyFile a file holding an nkey user seed.
	CredsFile string `yaml:"credsFile"`
	NkeyFile  string `yaml:"nkeyFile"`

	Listen    string   `yaml:"listen"`
	Peers     []string `yaml:"peers"`
	Secret    string   `yaml:"secret"`
	SecretEnv string   `yaml:"secretEnv"`
	// Mutual TLS on the routes: all three or none.
	RouteCertFile string `yaml:"routeCertFile"`
	RouteKeyFile  string `yaml:"routeKeyFile"`
	RouteCAFile   string `yaml:"routeCAFile"`

	RequestTimeout string `yaml:"requestTimeout"` // default 3s
	// Dead-node detection (docs/cluster.md): cluster_liveness.go.
	BeatInterval string `yaml:"beatInterval"` // default 1s
	DeadAfter    string `yaml:"deadAfter"`    // default 5s
	// RoutePingInterval: how often the embedded NATS pings its routes, so
	// that a lost peer is noticed; default 3s.
	RoutePingInterval string `yaml:"routePingInterval"`
}

// ClusterConfig is the node's configuration, or the errors of c, each
// naming its field (cluster.url: ...). apiID and stage make the default
// namespace.
func (c *Cluster) ClusterConfig(apiID, stage string) (cluster.Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: cluster.%s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	fromEnv := func(field, value, env string) string {
		switch {
		case value != "" && env != "":
			bad(field, "set %s or %sEnv, not both", field, field)
		case env != "":
			value = os.Getenv(env)
			if value == "" {
				bad(field+"Env", "environment variable %s is empty or unset", env)
			}
		}
		return value
	}
	cfg := cluster.Config{
		API: c.API, URL: c.URL, User: c.User, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, TLSRequired: c.TLS,
		CredsFile: c.CredsFile, NkeyFile: c.NkeyFile,
		Listen: c.Listen, Peers: c.Peers, RouteCertFile: c.RouteCertFile, RouteKeyFile: c.RouteKeyFile, RouteCAFile: c.RouteCAFile,
		Password: fromEnv("password", c.Password, c.PasswordEnv),
		Token:    fromEnv("token", c.Token, c.TokenEnv),
		Secret:   fromEnv("secret", c.Secret, c.SecretEnv),
	}
	if cfg.API == "" {
		cfg.API = DefaultClusterAPI(apiID, stage)
	}
	if c.RequestTimeout != "" {
		d, err := time.ParseDuration(c.RequestTimeout)
		if err != nil || d <= 0 {
			bad("requestTimeout", "a positive duration such as 3s (got %q)", c.RequestTimeout)
		}
		cfg.RequestTimeout = d
	}
	c.liveness(&cfg, bad)
	if err := cfg.Validate(); err != nil {
		var list interface{ Unwrap() []error }
		if errors.As(err, &list) {
			for _, e := range list.Unwrap() {
				errs = append(errs, fmt.Errorf("%w: cluster.%v", ErrInvalid, e))
			}
		} else {
			errs = append(errs, fmt.Errorf("%w: cluster.%v", ErrInvalid, err))
		}
	}
	return cfg, errors.Join(errs...)
}

// DefaultClusterAPI is the subject namespace of an API's cluster:
// "<apiId>-<stage>" ("local-dev" by default).
func DefaultClusterAPI(apiID, stage string) string {
	if apiID == "" {
		apiID = "local"
	}
	return apiID + "-" + stage
}
