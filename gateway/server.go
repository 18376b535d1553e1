package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-ws/switchboard/internal/routeselect"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
	"github.com/switchboard-ws/switchboard/sigv4"
	"golang.org/x/time/rate"
)

// Server is one WebSocket API stage. It is an http.Handler; create it with
// New and stop it with Shutdown.
type Server struct {
	opts      Options
	limits    Limits
	routes    map[string]Route
	selector  *routeselect.Expr
	methodArn string
	verifier  *sigv4.Verifier
	log       *slog.Logger
	reg       *registry
	limiter   *rate.Limiter // nil: no limit
	sources   *sourceTable  // nil: no per-source limit
	metrics   metrics
	obs       *observability // per-route metrics, refused handshakes (metrics_routes.go)
	insp      inspectHub     // what an inspector watches (inspect.go)
	// cluster and its node prefix when clustered (cluster.go); nil alone.
	cluster    Cluster
	nodePrefix string

	ctx    context.Context // cancelled when Shutdown gives up waiting
	cancel context.CancelFunc
	// The goroutines the server owns (owned.go): wg the server's own
	// (readers, dispatchers, writers, $disconnect), calls those that run an
	// integration or the authorizer (user code) so that a timeout can
	// answer without them; overdue counts those of calls still running
	// after their timeout was answered. The janitor has janitorDone.
	wg      goroutines
	calls   goroutines
	overdue atomic.Int64
	// callers and dispatchers keep the goroutines of calls (counted in
	// calls) and of dispatch loops (in wg) for the next (callers.go);
	// stopPools, closed when Shutdown begins, ends those waiting.
	callers, dispatchers *pool
	stopPools            chan struct{}

	lifeMu      sync.Mutex // orders track against Shutdown
	closing     atomic.Bool
	janitorDone chan struct{}

	// The last user agent and domain name of a new connection, shared by
	// the next ones that have the same (intern).
	lastUserAgent, lastDomainName atomic.Pointer[string]

	// poll is the poller of parked readers (park.go), started with the
	// first reader that parks and stopped by Shutdown.
	poll struct {
		once sync.Once
		p    *poller
	}
}

var (
	_ http.Handler = (*Server)(nil)
	_ Connections  = (*Server)(nil)
)

// New validates opts and returns a Server ready to serve.
func New(opts Options) (*Server, error) {
	opts.Limits.applyDefaults()
	// A source's default bucket holds as many as the global one.
	sourceBurst := 0
	if opts.Limits.SourceConnectRate == 0 && opts.Limits.ConnectRate > 0 {
		sourceBurst = connectBurst(opts.Limits.ConnectRate)
	}
	opts.Limits.applySourceDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := opts.Limits.validateSourceLimits(); err != nil {
		return nil, err
	}
	sel, err := opts.compileSelection()
	if err != nil {
		return nil, err
	}
	if opts.APIID == "" {
		opts.APIID = "local"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		opts:        opts,
		limits:      opts.Limits,
		routes:      opts.Routes,
		selector:    sel,
		methodArn:   fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect", opts.Region, opts.AccountID, opts.APIID, opts.Stage),
		log:         log,
		reg:         newRegistry(),
		limiter:     newConnectLimiter(opts.Limits.ConnectRate),
		sources:     newSourceTable(opts.Limits, sourceBurst),
		janitorDone: make(chan struct{}),
		wg:          newGoroutines(),
		calls:       newGoroutines(),
		stopPools:   make(chan struct{}),
		obs:         newObservability(opts.Routes),
	}
	s.callers, s.dispatchers = newPool(&s.calls, s.stopPools), newPool(&s.wg, s.stopPools)
	if s.routes == nil {
		s.routes = map[string]Route{}
	}
	if opts.Cluster != nil {
		s.cluster, s.nodePrefix = opts.Cluster, opts.Cluster.NodePrefix()
		if !ValidNodePrefix(s.nodePrefix) {
			return nil, fmt.Errorf("gateway: cluster node prefix %q is not 4 characters of URL-safe base64", s.nodePrefix)
		}
	}
	if len(opts.Credentials) > 0 {
		s.verifier = &sigv4.Verifier{Credentials: opts.Credentials, Service: "execute-api", Region: opts.Region}
	}
	if slices.Contains(opts.AllowedHosts, "*") {
		log.Warn("AllowedHosts (management.allowedHosts) has \"*\": the Host check against DNS rebinding is off for the management API, /metrics and the inspector; a web page whose name resolves to this machine can use them",
			"remedy", "name the hosts instead")
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.janitor()
	return s, nil
}

// ServeHTTP serves the WebSocket endpoint /{stage} and the management API
// /{stage}/@connections/{id}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	stagePath := "/" + s.opts.Stage
	switch {
	case p == stagePath || p == stagePath+"/":
		s.serveWebSocket(w, r)
	case strings.HasPrefix(p, stagePath+"/@connections/") || p == stagePath+"/@connections":
		s.serveManagement(w, r, strings.TrimPrefix(strings.TrimPrefix(p, stagePath+"/@connections"), "/"))
	case p == stagePath+BatchPath:
		w.Header().Set("X-Switchboard", "1") // tells clients the extension is here
		s.serveBatch(w, r)
	case s.opts.NotFound != nil:
		s.opts.NotFound.ServeHTTP(w, r)
	default:
		writeAWSError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
	}
}

// Stage returns the stage name.
func (s *Server) Stage() string { return s.opts.Stage }

// APIID and Region are the API's identity in its events and ARNs.
func (s *Server) APIID() string  { return s.opts.APIID }
func (s *Server) Region() string { return s.opts.Region }

// ExecuteAPIHost is the host name AWS gives this API
// ({apiId}.execute-api.{region}.amazonaws.com). Handlers that build their
// callback URL from it reach this gateway when Switchboard starts them
// (docs/templates.md, "How functions reach local endpoints").
func (s *Server) ExecuteAPIHost() string {
	return s.opts.APIID + ".execute-api." + s.opts.Region + ".amazonaws.com"
}

// ConnectionCount is the number of open connections.
func (s *Server) ConnectionCount() int { return s.reg.len() }

// Post implements Connections for the connections of this server.
func (s *Server) Post(ctx context.Context, id string, data []byte) error {
	return s.post(ctx, id, data, nil)
}

// PostFrame sends a frame prepared with wsproto.TextFrame to several
// connections; the frame is shared, not copied. It returns the ids that are
// gone.
//
// Connections with nothing queued are not given a writer goroutine each:
// a few goroutines (one per CPU at most) write the frame to them directly,
// without waiting, and only a socket that cannot take the whole frame at
// once gets a writer goroutine for the rest (writeDirect).
//
// When clustered, the ids of other nodes are grouped by node and each node
// is sent one request carrying the frame's payload once and its ids.
func (s *Server) PostFrame(ctx context.Context, ids []string, frame []byte) (gone []string) {
	gone, _ = s.PostFrameResult(ctx, ids, frame)
	return gone
}

// PostFrameResult is PostFrame that also returns the ids it could not
// reach: held by another node that did not answer (NATS down, a timeout),
// so not known to be gone, and perhaps not delivered. Only a Cluster that
// implements ClusterBroadcaster tells them.
func (s *Server) PostFrameResult(ctx context.Context, ids []string, frame []byte) (gone, failed []string) {
	// Held from before the first claim until the direct writers are
	// counted: see goroutines and writeDirect.
	s.wg.Add(1)
	defer s.wg.Done()
	now := time.Now().UnixNano()
	var direct []*conn
	var byNode map[string][]string
	for _, id := range ids {
		if s.remote(id) {
			if !validID(id) {
				gone = append(gone, id)
				continue
			}
			if byNode == nil {
				byNode = make(map[string][]string)
			}
			p := id[:NodePrefixLen]
			byNode[p] = append(byNode[p], id)
			continue
		}
		c := s.reg.get(id)
		if c == nil {
			gone = append(gone, id)
			continue
		}
		claimed, err := c.enqueueOrClaim(frame, now, directWrites)
		switch {
		case err != nil:
			gone = append(gone, id)
		case claimed:
			direct = append(direct, c)
		}
	}
	remote := 0
	for _, g := range byNode {
		remote += len(g)
	}
	s.metrics.messagesOut.Add(uint64(len(ids) - remote - len(gone)))
	if len(direct) > 0 {
		s.writeDirect(direct, frame)
	}
	if byNode != nil {
		g, f := s.postRemote(ctx, byNode, frame)
		gone, failed = append(gone, g...), f
	}
	return gone, failed
}

// Info implements Connections.
func (s *Server) Info(ctx context.Context, id string) (ConnectionInfo, error) {
	c := s.reg.get(id)
	if c == nil {
		if s.remote(id) {
			return s.cluster.Info(ctx, id)
		}
		return ConnectionInfo{}, ErrGone
	}
	return ConnectionInfo{
		ConnectedAt:  time.UnixMilli(c.meta.connectedAt),
		LastActiveAt: time.Unix(0, c.lastActive.Load()),
		SourceIP:     c.meta.sourceIP,
		UserAgent:    c.meta.userAgent,
	}, nil
}

// Disconnect implements Connections: close 1000, then $disconnect with
// "Connection Closed Normally".
func (s *Server) Disconnect(ctx context.Context, id string) error {
	c := s.reg.get(id)
	if c == nil {
		if s.remote(id) {
			return s.cluster.Disconnect(ctx, id)
		}
		return ErrGone
	}
	c.closeWith(causeDeleted, wsproto.CloseNormal, "Connection Closed Normally")
	return nil
}

// Shutdown closes every connection with 1001 "Going away", waits for the
// connections to end and their $disconnect routes to finish, or for ctx to
// end. New connections are refused from the start. Messages received but not
// yet dispatched are dropped (a message already running finishes, or is
// cancelled when ctx ends); $disconnect runs under its own timeout
// (Limits.IntegrationTimeout), so it runs even if ctx ends first.
//
// Shutdown waits for every goroutine the server started, in two steps.
// First its own (readers, dispatchers, writers, $disconnect): if ctx ends
// before they do, the server's context (the one message routes run under)
// is cancelled and ctx.Err() returned. Then the goroutines still running an
// integration or the authorizer after their timeout was answered: these
// run user code, which may never return (a handler that ignores its
// context cannot be stopped from outside), so this wait is bounded by ctx
// only, and a handler still running when ctx ends is not an error of the
// server's: Shutdown logs how many were left behind and returns nil. A
// caller that must leave no goroutine behind gives Shutdown a context
// without a deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lifeMu.Lock()
	already := s.closing.Swap(true)
	s.lifeMu.Unlock()
	if already {
		return ErrServerClosed
	}
	close(s.stopPools)
	s.reg.each(func(c *conn) { c.closeWith(causeShutdown, wsproto.CloseGoingAway, "Going away") })
	s.insp.closeAll()
	// calls is added to only by goroutines counted in wg (or tracked
	// requests), so once wg is done, calls only goes down.
	left := s.wg.Wait(ctx)
	var calls int64
	if left == 0 {
		calls = s.calls.Wait(ctx)
	}
	s.cancel()
	<-s.janitorDone
	s.stopPoller()
	if left > 0 {
		s.log.Warn("shutdown: the server's goroutines still running when the context ended",
			"goroutines", left, "integrationsPastTimeout", s.overdue.Load(), "err", ctx.Err())
		return ctx.Err()
	}
	if calls > 0 {
		s.log.Warn("shutdown: integrations still running past their timeout when the context ended; left behind",
			"integrationsPastTimeout", calls, "err", ctx.Err())
	}
	return nil
}

// track counts a unit of work Shutdown waits for; false once shutting down.
// Work already tracked may start more with wg.Add or wg.Go directly.
func (s *Server) track() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

// janitor closes connections past the idle timeout or the maximum
// duration, and forgets idle source addresses (sources.go).
func (s *Server) janitor() {
	defer close(s.janitorDone)
	tick := min(s.limits.IdleTimeout, s.limits.MaxConnectionDuration) / 8
	tick = max(10*time.Millisecond, min(tick, time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			if s.sources != nil && now.Sub(lastSweep) >= sourceSweepEvery {
				lastSweep = now
				s.sources.sweep(now)
			}
			idleBefore := now.Add(-s.limits.IdleTimeout).UnixNano()
			oldBefore := now.Add(-s.limits.MaxConnectionDuration).UnixMilli()
			s.reg.each(func(c *conn) {
				switch {
				case c.meta.connectedAt <= oldBefore:
					c.closeWith(causeMaxDuration, wsproto.CloseGoingAway, "Maximum connection duration exceeded")
				case c.lastActive.Load() <= idleBefore:
					c.closeWith(causeIdle, wsproto.CloseGoingAway, "Idle timeout exceeded")
				}
			})
		}
	}
}

// newConnectLimiter returns the limiter of new connections: a token bucket
// that refills at perSecond tokens per second and holds max(perSecond, 1)
// (whole tokens), so that a rate below 1/s still admits one connection every
// 1/perSecond seconds. A rate of zero or less means no limit (nil).
func newConnectLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), connectBurst(perSecond))
}

// connectBurst is the bucket of a connect rate: whole connections, at
// least 1, bounded so that a huge rate does not overflow int.
func connectBurst(perSecond float64) int {
	return int(min(max(math.Floor(perSecond), 1), math.MaxInt32))
}

// Limits returns the stage's limits, defaults applied.
func (s *Server) Limits() Limits { return s.limits }
