package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/internal/routeselect"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// Route keys with a meaning of their own.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Options describe one WebSocket API stage. The zero value of every limit
// means the AWS default.
type Options struct {
	// Stage is the first path segment: clients connect to ws://ADDR/{Stage}.
	Stage string
	// RouteSelectionExpression, e.g. "$request.body.action".
	RouteSelectionExpression string
	// Routes by route key: "$connect", "$disconnect", "$default" or a custom
	// key. Every route is optional.
	Routes map[string]Route
	// Authorizer, if set, runs on $connect before the $connect route.
	Authorizer *AuthorizerConfig

	// APIID, Region and AccountID fill the events and the authorizer's
	// methodArn. Defaults: "local", "us-east-1", "000000000000".
	APIID, Region, AccountID string
	// DomainName fills requestContext.domainName. When empty, the local
	// address the client's TCP connection reached (the listener's address,
	// e.g. 127.0.0.1:8080) is used, so that handlers that build their
	// callback URL as http://{domainName}/{stage} reach this gateway. The
	// client's Host header is never used: the client chooses it.
	DomainName string
	// StageVariables are passed to every event and the authorizer.
	StageVariables map[string]string

	Limits Limits

	// Credentials, when non-empty, make the management API require a valid
	// SigV4 signature (service execute-api) made with one of them. When empty,
	// the management API only answers requests from loopback addresses that
	// carry none of the headers a proxy adds (localonly.ForwardingHeaders:
	// Forwarded, Via, X-Forwarded-*, X-Real-IP, CF-Connecting-IP, ...):
	// behind a local reverse proxy every client would otherwise look like
	// loopback.
	Credentials sigv4.Credentials

	// Browser protection of the control endpoints (the management API, the
	// batch extension, /metrics, and whatever Server.Protect guards): they
	// refuse cross-origin requests and, where the loopback-only rule applies
	// (no Credentials; /metrics always), requests whose Host does not name
	// this gateway (DNS rebinding). See package originguard and
	// docs/config.md. SDKs and curl send no Origin and are not affected.
	//
	// AllowedOrigins are origins allowed besides the gateway's own
	// ("https://admin.example.com"; "*" allows any).
	AllowedOrigins []string
	// AllowedHosts are host names (or addresses) served besides the
	// loopback names and addresses, the address the client reached,
	// DomainName and ExecuteAPIHost ("*.example.com" for a domain's names;
	// "*" allows any Host).
	AllowedHosts []string
	guard        *guard // built by validate

	// Cluster, when set, makes this server one node of several that share
	// one connection namespace: its connection ids carry the node's prefix,
	// and the management API, the batch extension, Post, Info, Disconnect
	// and PostFrame reach ids of other nodes through it (package cluster).
	Cluster Cluster

	// NotFound serves requests outside /{Stage}; nil answers 403 Forbidden as
	// API Gateway does for unknown paths.
	NotFound http.Handler
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Annotate, if set, tells the inspector what the application knows of
	// a connection (the chat backend: its rooms); see Annotator.
	Annotate Annotator
	// AccessLog chooses the connect, message and disconnect lines
	// (accesslog.go, docs/logging.md); the zero value writes them all at Info.
	AccessLog AccessLog
}

// Route is one route of the API.
type Route struct {
	Integration Integration
	// RouteResponse makes the route two-way: the body the integration
	// returns is sent back to the caller as a text frame.
	RouteResponse bool
}

// AuthorizerConfig is a REQUEST authorizer attached to $connect.
type AuthorizerConfig struct {
	Authorizer Authorizer
	// IdentitySources such as "route.request.querystring.token" or
	// "route.request.header.Authorization". If any is missing or empty the
	// connection is refused with 401 without calling the authorizer.
	IdentitySources []string
}

// Limits of a stage. Zero values take the AWS defaults shown.
type Limits struct {
	MaxMessageBytes       int           // 128 KiB; larger inbound message -> close 1009; larger post -> 413
	MaxFrameBytes         int           // 32 KiB; larger inbound frame -> close 1009
	IdleTimeout           time.Duration // 10 min; reset by data frames either way, not pings
	MaxConnectionDuration time.Duration // 2 h
	IntegrationTimeout    time.Duration // 29 s; a message route that takes longer gets the timeout frame
	ConnectTimeout        time.Duration // 29 s; authorizer and $connect each
	SendQueueBytes        int           // 1 MiB (at least MaxMessageBytes+16); a consumer whose queue exceeds it is closed with 1008
	WriteTimeout          time.Duration // 10 s; a write blocked longer (up to 1.5x) closes the connection
	InboundQueue          int           // 64 messages received but not yet dispatched, per connection
	// InboundQueueBytes bounds the bytes of those messages, per connection:
	// 1 MiB. The reader waits for room before it reads the next message's
	// payload; a message larger than this goes through alone.
	InboundQueueBytes int
	// ConnectRate limits new connections per second (token bucket with a
	// burst of the same size, rounded down, at least 1: a rate below 1/s
	// admits one connection every 1/rate seconds). Zero means 500 as on AWS;
	// negative: no limit.
	ConnectRate float64

	// --- The listener and each source address (issue 12; sources.go). ---
	// For each, zero means the default and a negative value none.
	//
	// HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout and MaxConnections
	// configure the HTTP server that serves the stage (internal/httpserve;
	// switchboard serve and dev apply them, Server itself does not): the
	// whole request (a body that trickles is cut), a response, the wait
	// for the next request on a keep-alive connection, and the open
	// connections of every kind (503 beyond, after closing the longest
	// idle). WebSocket connections are not subject to the HTTP timeouts.
	// Defaults: 60 s, 60 s, 60 s, and the file-descriptor limit less a
	// reserve.
	HTTPReadTimeout  time.Duration
	HTTPWriteTimeout time.Duration
	HTTPIdleTimeout  time.Duration
	MaxConnections   int
	// SourceConnectRate limits the WebSocket handshakes of one source
	// address (an IPv6 address counts with its /64) per second, with a
	// burst of the same size: beyond it, 429 with Retry-After, without
	// spending ConnectRate. Default: half of ConnectRate (250/s), with the
	// burst of ConnectRate (500).
	SourceConnectRate float64
	// MaxSourceConnections bounds the open WebSocket connections (and
	// handshakes in progress) of one source address: beyond it, 429.
	// Default DefaultMaxSourceConnections.
	MaxSourceConnections int
	// With ConnectRate negative (no connect limit, as benchmarks run) the
	// two above default to none.
	//
	// MaxSources bounds the source addresses remembered at once (entries
	// idle for long are forgotten first): default DefaultMaxSources.
	MaxSources int
	// Server pings (ping.go). API Gateway sends none, so they are off by
	// default. With PingInterval set, the gateway sends a ping every
	// PingInterval; a client that has sent nothing, not even a pong, for
	// MaxMissedPongs pings in a row is closed with 1001 "Ping timeout"
	// ($disconnect runs). Pings and pongs do not count as activity for
	// IdleTimeout, as on AWS.
	PingInterval   time.Duration // 0: no pings
	MaxMissedPongs int           // 2 (with PingInterval)
}

// Defaults matching AWS API Gateway.
const (
	DefaultMaxMessageBytes       = 128 * 1024
	DefaultMaxFrameBytes         = 32 * 1024
	DefaultIdleTimeout           = 10 * time.Minute
	DefaultMaxConnectionDuration = 2 * time.Hour
	DefaultIntegrationTimeout    = 29 * time.Second
	DefaultSendQueueBytes        = 1 << 20
	DefaultWriteTimeout          = 10 * time.Second
	DefaultInboundQueue          = 64
	DefaultInboundQueueBytes     = 1 << 20
	DefaultConnectRate           = 500
)

// DefaultMaxMissedPongs is how many pings in a row a client may leave
// unanswered (Limits.MaxMissedPongs), as nats-server's ping_max.
const DefaultMaxMissedPongs = 2

func (l *Limits) applyDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&l.MaxFrameBytes, DefaultMaxFrameBytes)
	// The default send queue holds at least one message of the largest size.
	def(&l.SendQueueBytes, max(DefaultSendQueueBytes, l.MaxMessageBytes+sendQueueSlack))
	def(&l.InboundQueue, DefaultInboundQueue)
	def(&l.InboundQueueBytes, DefaultInboundQueueBytes)
	defd(&l.IdleTimeout, DefaultIdleTimeout)
	defd(&l.MaxConnectionDuration, DefaultMaxConnectionDuration)
	defd(&l.IntegrationTimeout, DefaultIntegrationTimeout)
	defd(&l.ConnectTimeout, DefaultIntegrationTimeout)
	defd(&l.WriteTimeout, DefaultWriteTimeout)
	if l.PingInterval > 0 {
		def(&l.MaxMissedPongs, DefaultMaxMissedPongs)
	}
	if l.ConnectRate == 0 {
		l.ConnectRate = DefaultConnectRate
	}
	if l.MaxFrameBytes > l.MaxMessageBytes {
		l.MaxFrameBytes = l.MaxMessageBytes
	}
}

// sendQueueSlack is room for a frame header (at most 10 bytes from a
// server) on top of the largest message.
const sendQueueSlack = 16

// minIntegrationTimeout is the shortest IntegrationTimeout accepted. AWS
// allows 50 ms to 29 s; locally longer ones are useful (a debugger), shorter
// ones are a mistake (a unit missing from a number).
const minIntegrationTimeout = time.Millisecond

// validate checks options after defaults were applied; errors name the field.
func (o *Options) validate() error {
	if o.Stage == "" || strings.ContainsAny(o.Stage, "/?#@% ") {
		return fmt.Errorf("gateway: Options.Stage %q: must be a non-empty path segment", o.Stage)
	}
	for key, r := range o.Routes {
		switch {
		case key == "":
			return fmt.Errorf("gateway: Options.Routes: empty route key")
		case strings.HasPrefix(key, "$") && key != RouteConnect && key != RouteDisconnect && key != RouteDefault:
			return fmt.Errorf("gateway: Options.Routes[%q]: custom route keys may not start with $", key)
		case r.Integration == nil:
			return fmt.Errorf("gateway: Options.Routes[%q].Integration: missing", key)
		}
	}
	if o.Authorizer != nil {
		if o.Authorizer.Authorizer == nil {
			return fmt.Errorf("gateway: Options.Authorizer.Authorizer: missing")
		}
		for i, src := range o.Authorizer.IdentitySources {
			if _, _, err := parseIdentitySource(src); err != nil {
				return fmt.Errorf("gateway: Options.Authorizer.IdentitySources[%d]: %w", i, err)
			}
		}
	}
	if err := o.buildGuard(); err != nil {
		return err
	}
	l := o.Limits
	for name, v := range map[string]int{"MaxMessageBytes": l.MaxMessageBytes, "MaxFrameBytes": l.MaxFrameBytes, "SendQueueBytes": l.SendQueueBytes, "InboundQueue": l.InboundQueue, "InboundQueueBytes": l.InboundQueueBytes} {
		if v < 0 {
			return fmt.Errorf("gateway: Options.Limits.%s: must not be negative", name)
		}
	}
	for name, v := range map[string]time.Duration{"IdleTimeout": l.IdleTimeout, "MaxConnectionDuration": l.MaxConnectionDuration, "IntegrationTimeout": l.IntegrationTimeout, "ConnectTimeout": l.ConnectTimeout, "WriteTimeout": l.WriteTimeout} {
		if v < 0 {
			return fmt.Errorf("gateway: Options.Limits.%s: must not be negative", name)
		}
	}
	if l.PingInterval < 0 || l.MaxMissedPongs < 0 {
		return fmt.Errorf("gateway: Options.Limits.PingInterval and MaxMissedPongs: must not be negative")
	}
	if l.IntegrationTimeout < minIntegrationTimeout {
		return fmt.Errorf("gateway: Options.Limits.IntegrationTimeout: %v is shorter than %v", l.IntegrationTimeout, minIntegrationTimeout)
	}
	if l.SendQueueBytes < l.MaxMessageBytes+sendQueueSlack {
		return fmt.Errorf("gateway: Options.Limits.SendQueueBytes: %d is smaller than MaxMessageBytes+%d (%d): a message of the largest size could never be sent", l.SendQueueBytes, sendQueueSlack, l.MaxMessageBytes+sendQueueSlack)
	}
	return nil
}

func (o *Options) compileSelection() (*routeselect.Expr, error) {
	expr := o.RouteSelectionExpression
	if expr == "" {
		expr = "$request.body.action"
	}
	e, err := routeselect.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("gateway: Options.RouteSelectionExpression: %w", err)
	}
	return e, nil
}
