package devstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/gateway/inspector"
	"github.com/switchboard-ws/switchboard/internal/httpserve"
	"github.com/switchboard-ws/switchboard/push"
	"github.com/switchboard-ws/switchboard/queue"
)

// Stage is the stage `switchboard dev` serves.
const Stage = "dev"

// Options configure a Stack. Zero values take the defaults shown.
type Options struct {
	DataDir       string        // required: the store and the dev secret live here
	ConnectionTTL time.Duration // default chat.DefaultConnectionTTL: expiry of connections without heartbeat
	SweepInterval time.Duration // 5s: how often expired items are deleted
	Chat          chat.Config   // content limits etc.; ConnectionTTL above wins
	Limits        gateway.Limits
	// AccessLog chooses the gateway's connect, message and disconnect
	// lines (gateway.AccessLog); the zero value logs them all at Info.
	AccessLog gateway.AccessLog
	// Cluster, when set, makes the gateway a node of a cluster
	// (gateway.Options.Cluster; the caller serves and closes it).
	Cluster gateway.Cluster
	// Auth, when JWKSURL is set, also accepts RS256/ES256 tokens from that
	// issuer (Cognito-style); dev tokens (HS256) are always accepted.
	Auth auth.Config
	// Store replaces the embedded store (e.g. the DynamoDB store); the
	// stack closes it.
	Store store.Store
	// FanoutQueue configures the in-process queue (queue.Local) that
	// carries broadcasts to more than Chat.FanoutThreshold connections to
	// the Fanout handler in batches, as SQS does on AWS.
	FanoutQueue queue.LocalOptions
	// FanoutMiddleware, when set, wraps the Fanout handler the queue
	// invokes (tests inject faults with it).
	FanoutMiddleware func(queue.Handler) queue.Handler
	// ViaManagementAPI makes the handlers push through the @connections
	// HTTP API with the AWS SDK client, exactly as on AWS, instead of the
	// in-process fast path.
	ViaManagementAPI bool
	// The browser UI (package web) is served at / for requests outside
	// /dev, with POST /dev-token (DevTokenPath) that hands it dev tokens.
	// Extra, when set, serves those requests instead of the UI's pages
	// (POST /dev-token stays). NoUI turns both off: requests outside /dev
	// go to Extra, or to a short text page when it is nil.
	Extra http.Handler
	NoUI  bool
	// TLS, when set, makes the port answer TLS (https, wss) beside plain
	// http and ws (package tlsmux).
	TLS    *tls.Config
	Now    func() time.Time
	Logger *slog.Logger
}

// Stack is the running system.
type Stack struct {
	Gateway *gateway.Server
	Store   store.Store
	Chat    *chat.Service
	Queue   *queue.Local // the fan-out queue
	Secret  []byte       // the dev secret tokens are signed with

	opts   Options
	log    *slog.Logger
	pusher *lazyPusher
	// verifier's JWK Set refresh (with --jwks-url) runs until Close.
	verifier *auth.Verifier
	srv      *httpserve.Server
	ln       net.Listener
	// transport carries the management API calls of ViaManagementAPI.
	transport *http.Transport
	stop      chan struct{}
	done      sync.WaitGroup
	closed    bool
}

// New opens the store and builds the stack; Serve starts it.
func New(opts Options) (*Stack, error) {
	if opts.DataDir == "" {
		return nil, errors.New("devstack: Options.DataDir is required")
	}
	if opts.ConnectionTTL <= 0 {
		opts.ConnectionTTL = chat.DefaultConnectionTTL
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	secret, err := auth.LoadOrCreateDevSecret(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devstack: dev secret: %w", err)
	}
	ac := opts.Auth
	ac.HS256Secret, ac.Now = secret, opts.Now
	if ac.JWKSURL == "" {
		ac.Issuer = auth.DevIssuer
	}
	verifier, err := auth.NewVerifier(context.Background(), ac)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	st := opts.Store
	if st == nil {
		if st, err = sqlite.Open(opts.DataDir, sqlite.Options{Now: opts.Now}); err != nil {
			verifier.Close()
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	s := &Stack{Store: st, Secret: secret, opts: opts, log: log, verifier: verifier, stop: make(chan struct{})}

	// The gateway needs the handlers and the handlers need the gateway (to
	// push): the pusher reaches the gateway through the stack.
	pusher := &lazyPusher{}
	cfg := opts.Chat
	cfg.ConnectionTTL, cfg.Now, cfg.Logger = opts.ConnectionTTL, opts.Now, log
	if cfg.CursorKey == nil {
		cfg.CursorKey = chat.CursorKey(secret)
	}
	// The queue needs the handler and the handler needs the queue: the
	// handler reaches the service through the stack once it exists.
	fanout := queue.Handler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return s.Chat.Fanout(ctx, ev)
	})
	if opts.FanoutMiddleware != nil {
		fanout = opts.FanoutMiddleware(fanout)
	}
	qo := opts.FanoutQueue
	if qo.Logger == nil {
		qo.Logger = log
	}
	s.Queue = queue.NewLocal(fanout, qo)
	cfg.Queue = s.Queue
	// The chat service's store calls are timed for /metrics; s.Store
	// stays the store itself, for its optional interfaces (Sweeper...).
	timed := store.NewTimed(st)
	s.Chat = chat.New(timed, pusher, verifier, cfg)

	message := gateway.HandlerFunc(s.Chat.Message)
	routes := map[string]gateway.Route{
		gateway.RouteConnect:    {Integration: gateway.HandlerFunc(s.Chat.Connect)},
		gateway.RouteDisconnect: {Integration: gateway.HandlerFunc(s.Chat.Disconnect)},
		gateway.RouteDefault:    {Integration: message},
	}
	for _, a := range chat.Actions() {
		routes[a] = gateway.Route{Integration: message}
	}
	notFound := s.pages()
	gw, err := gateway.New(gateway.Options{
		Stage:                    Stage,
		RouteSelectionExpression: "$request.body.action",
		Routes:                   routes,
		// The identity source of the AWS deployments (deploy/): the token
		// is ?token= here exactly as there.
		Authorizer: &gateway.AuthorizerConfig{Authorizer: gateway.AuthorizerFunc(s.Chat.Authorize),
			IdentitySources: []string{"route.request.querystring.token"}},
		Limits:    opts.Limits,
		Cluster:   opts.Cluster,
		NotFound:  notFound,
		Logger:    log,
		AccessLog: opts.AccessLog,
		Annotate:  roomsOf(st),
	})
	if err != nil {
		s.Queue.Close(context.Background())
		st.Close()
		verifier.Close()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.Gateway = gw
	gw.AddMetrics(func(w io.Writer) { queue.WriteMetrics(w, s.Queue) })
	gw.AddMetrics(timed.WriteMetrics)
	s.pusher = pusher
	maxBytes := opts.Limits.MaxMessageBytes
	if maxBytes == 0 {
		maxBytes = gateway.DefaultMaxMessageBytes
	}
	pusher.set(gatewayPusher{gw: gw, maxBytes: maxBytes})
	if err := s.clearStale(context.Background()); err != nil {
		s.Queue.Close(context.Background())
		st.Close()
		verifier.Close()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	return s, nil
}

// Serve listens on addr and serves until Close. It returns once listening.
func (s *Stack) Serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.ln = ln
	if s.opts.ViaManagementAPI {
		// A transport of its own, whose idle connections Close closes: the
		// HTTP server's shutdown would wait for them otherwise.
		s.transport = http.DefaultTransport.(*http.Transport).Clone()
		s.pusher.set(push.NewSDK("http://"+ln.Addr().String()+"/"+Stage, aws.Config{
			Region:      "us-east-1",
			Credentials: aws.AnonymousCredentials{},
			HTTPClient:  &http.Client{Transport: s.transport, Timeout: 30 * time.Second},
		}))
	}
	// The listener's timeouts and limits (Options.Limits: HTTP*,
	// MaxConnections), TLS beside plain when configured.
	l := s.opts.Limits
	s.srv = httpserve.New(ln, inspector.Mount(s.Gateway, s.Gateway.WithMetrics()), httpserve.Options{
		ReadTimeout: l.HTTPReadTimeout, WriteTimeout: l.HTTPWriteTimeout, IdleTimeout: l.HTTPIdleTimeout,
		MaxConnections: l.MaxConnections, TLS: s.opts.TLS, Logger: s.log})
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		if err := s.srv.Serve(); err != nil {
			s.log.Error("serving", "err", err)
		}
	}()
	go s.sweepLoop()
	return nil
}

// Addr is the listening address (after Serve).
func (s *Stack) Addr() string { return s.ln.Addr().String() }

// URL is the WebSocket URL clients connect to.
func (s *Stack) URL() string { return "ws://" + s.Addr() + "/" + Stage }

// Token mints a dev token for a user.
func (s *Stack) Token(userID, username, tenantID string, ttl time.Duration) (string, error) {
	return auth.MintDevToken(s.Secret, auth.Identity{UserID: userID, Username: username, TenantID: tenantID}, ttl, s.opts.Now())
}

// Sweep deletes expired items now and runs the cleanup handler on them.
func (s *Stack) Sweep(ctx context.Context) (int, error) {
	sw, ok := s.Store.(store.Sweeper)
	if !ok {
		return 0, nil
	}
	return sweep(ctx, sw, s.opts.Now(), "local", s.Chat.Cleanup)
}

func (s *Stack) sweepLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if n, err := s.Sweep(context.Background()); err != nil {
				s.log.Warn("sweeping expired items", "err", err)
			} else if n > 0 {
				s.log.Info("expired items removed", "count", n)
			}
		}
	}
}

// Close shuts down: every connection is closed with 1001 and its
// $disconnect runs, the fan-out queue drains, then the store is closed.
func (s *Stack) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	var errs []error
	// The gateway first: its $disconnect handlers, and the fan-out batches
	// they and earlier broadcasts queued, may still call the management
	// API over HTTP; then the queue drains; then the HTTP server stops.
	if err := s.Gateway.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.Queue.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if s.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s.srv.Shutdown(sctx)
		cancel()
	}
	s.done.Wait()
	s.verifier.Close()
	if err := s.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
