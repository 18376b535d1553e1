package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults of a Config.
const (
	// DefaultAPI is the subject namespace of a cluster: nodes that serve
	// the same API share it.
	DefaultAPI = "local"
	// DefaultRequestTimeout bounds a request to another node (a post, a
	// describe, a delete, a batch): past it the caller gets an error (500
	// InternalServerErrorException through the management API), not 410,
	// since the node may still hold the connection.
	DefaultRequestTimeout = 3 * time.Second
	// DefaultMaxMessageBytes is the largest message a node forwards or
	// accepts from another (the gateway's own limit is checked before).
	DefaultMaxMessageBytes = 128 * 1024
	// DefaultJoinTimeout bounds connecting to NATS and starting the
	// embedded server.
	DefaultJoinTimeout = 10 * time.Second
	// DefaultPeerWait is how long a node with peers waits, at join, for a
	// route to one of them.
	DefaultPeerWait = 10 * time.Second
	// DefaultResponderGrace is how long a request to a node prefix that
	// has no responder is tried again before the id is taken for gone:
	// a node that just started serving may not have its subscription
	// known yet across the routes, and its live connections must not be
	// answered 410 meanwhile.
	DefaultResponderGrace = 500 * time.Millisecond
	// DefaultRoutePingInterval is how often the embedded NATS pings each
	// route, and DefaultRouteMaxPingsOut how many pings may go unanswered
	// before it drops the route: a peer whose machine is lost without a
	// TCP reset (powered off, cut off, frozen) loses its routes, so its
	// subscriptions, within about 3 to 4 intervals, and the dead-node
	// detection (liveness.go) can judge it. nats-server's own default
	// (2 minutes, capped at 30 s for routes) would leave it undecided for
	// a minute or more.
	DefaultRoutePingInterval = 3 * time.Second
	DefaultRouteMaxPingsOut  = 3
	// RouteUser is the user name of the embedded servers' routes; the
	// password is Config.Secret.
	RouteUser = "switchboard"
)

// Config says how a node joins its cluster: through an external NATS (URL)
// or by running an embedded NATS server routed to its peers (Listen,
// Peers, Secret). Exactly one of URL and Listen is set.
type Config struct {
	// API names the connection namespace: the subjects are
	// switchboard.<API>.node.<prefix>.<op>. One NATS can carry several APIs.
	// Default DefaultAPI.
	API string

	// URL is the external NATS, e.g. nats://user:pass@nats1:4222 (several,
	// comma-separated, for a NATS cluster). Credentials may be in the URL
	// or below.
	URL            string
	User, Password string
	Token          string
	CAFile         string // TLS: the CA of the NATS servers' certificates
	CertFile       string // TLS: a client certificate, with KeyFile
	KeyFile        string
	TLSRequired    bool // TLS even when the URL says nats://
	// CredsFile is a NATS credentials file (.creds: a user JWT and its
	// nkey seed), for a NATS in operator (JWT) mode; NkeyFile a file
	// holding an nkey seed (SU...), for a user listed by its public nkey.
	// Either one, instead of a user and password or a token (creds.go).
	CredsFile, NkeyFile string

	// Listen is the address of this node's embedded NATS routes
	// (host:port, e.g. 127.0.0.1:6222; port 0 picks a free one). Peers are
	// the route addresses of the other nodes (host:port); routes are
	// gossiped, so one live peer is enough to join. Secret is the route
	// password every node of the cluster shares (required).
	Listen string
	Peers  []string
	Secret string
	// RouteCertFile, RouteKeyFile and RouteCAFile, all three or none, make
	// the routes mutual TLS: each node presents its certificate (usable
	// for server and client authentication) and requires one signed by
	// the CA. Set them when the nodes talk over an untrusted network.
	RouteCertFile, RouteKeyFile, RouteCAFile string
	// PeerWait is how long Join waits for a route to a peer before the
	// node serves alone (with a warning); default DefaultPeerWait.
	PeerWait time.Duration

	// RequestTimeout bounds a request to another node; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ResponderGrace is how long a prefix without responder is tried
	// again (every 25 ms) before its ids are gone; a prefix found gone so
	// is gone at once afterwards (prefixes are drawn anew at every join).
	// Default DefaultResponderGrace; negative: no grace.
	ResponderGrace time.Duration
	// BeatInterval is how often the node tells the others it is alive,
	// and DeadAfter how long another node may be silent before it is
	// declared dead, if NATS also says it is no longer subscribed
	// (liveness.go, docs/cluster.md). Defaults DefaultBeatInterval and
	// DefaultDeadAfter; DeadAfter must be at least twice BeatInterval.
	BeatInterval, DeadAfter time.Duration
	// RoutePingInterval is how often the embedded NATS pings its routes
	// (with Listen); a route silent for DefaultRouteMaxPingsOut pings is
	// dropped. Default DefaultRoutePingInterval; at most 30 s (nats-server's
	// cap for routes).
	RoutePingInterval time.Duration
	// MaxMessageBytes is the largest message forwarded or accepted;
	// default DefaultMaxMessageBytes. Set it to the gateway's
	// Limits.MaxMessageBytes.
	MaxMessageBytes int

	Logger *slog.Logger
}

// maxRoutePingInterval is nats-server's cap on a route's ping interval.
const maxRoutePingInterval = 30 * time.Second

// Embedded reports whether c runs an embedded NATS server.
func (c *Config) Embedded() bool { return c.Listen != "" }

// Validate checks c, naming the field that is wrong.
func (c *Config) Validate() error {
	var errs []error
	if c.API != "" && !validToken(c.API) {
		errs = append(errs, fmt.Errorf("api: %q must be letters, digits, - and _ only", c.API))
	}
	switch {
	case c.URL == "" && c.Listen == "":
		errs = append(errs, errors.New("url or listen: one is required"))
	case c.URL != "" && c.Listen != "":
		errs = append(errs, errors.New("url and listen: set one (an external NATS, or the embedded one)"))
	case c.URL != "":
		for _, u := range strings.Split(c.URL, ",") {
			if !strings.Contains(u, "://") {
				errs = append(errs, fmt.Errorf("url: %q is not a URL (nats://host:4222, tls://host:4222)", u))
			}
		}
		if len(c.Peers) > 0 || c.Secret != "" || c.RouteCertFile != "" || c.RouteKeyFile != "" || c.RouteCAFile != "" {
			errs = append(errs, errors.New("peers, secret and route TLS files: only with listen (the embedded NATS)"))
		}
		if (c.CertFile == "") != (c.KeyFile == "") {
			errs = append(errs, errors.New("certFile and keyFile: set both or neither"))
		}
		if c.Token != "" && c.User != "" {
			errs = append(errs, errors.New("token and user: set one"))
		}
		errs = append(errs, c.validateCreds()...)
	default:
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %q: %w", c.Listen, err))
		}
		for i, p := range c.Peers {
			if _, _, err := net.SplitHostPort(p); err != nil {
				errs = append(errs, fmt.Errorf("peers[%d]: %q: %w", i, p, err))
			}
		}
		if c.Secret == "" {
			errs = append(errs, errors.New("secret: required with listen (the password of the routes between nodes)"))
		}
		if n := btoi(c.RouteCertFile != "") + btoi(c.RouteKeyFile != "") + btoi(c.RouteCAFile != ""); n != 0 && n != 3 {
			errs = append(errs, errors.New("routeCertFile, routeKeyFile and routeCAFile: set all three or none"))
		}
		if c.User != "" || c.Password != "" || c.Token != "" || c.CAFile != "" || c.CertFile != "" || c.CredsFile != "" || c.NkeyFile != "" {
			errs = append(errs, errors.New("user, password, token, credsFile, nkeyFile and TLS files: only with url (an external NATS)"))
		}
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("requestTimeout: %v is negative", c.RequestTimeout))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, fmt.Errorf("maxMessageBytes: %d is negative", c.MaxMessageBytes))
	}
	if c.RoutePingInterval < 0 || c.RoutePingInterval > maxRoutePingInterval {
		errs = append(errs, fmt.Errorf("routePingInterval: %v is not between 0 and %v", c.RoutePingInterval, maxRoutePingInterval))
	}
	errs = append(errs, c.validateLiveness())
	return errors.Join(errs...)
}

func (c *Config) applyDefaults() {
	if c.API == "" {
		c.API = DefaultAPI
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.PeerWait == 0 {
		c.PeerWait = DefaultPeerWait
	}
	if c.ResponderGrace == 0 {
		c.ResponderGrace = DefaultResponderGrace
	}
	if c.RoutePingInterval == 0 {
		c.RoutePingInterval = DefaultRoutePingInterval
	}
	c.livenessDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// validToken reports whether s can be one token of a subject.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
