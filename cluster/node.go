package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/switchboard-ws/switchboard/gateway"
)

// Local is what a node serves to the others: the connections its gateway
// holds. *gateway.Server implements it.
type Local interface {
	Post(ctx context.Context, id string, data []byte) error
	Info(ctx context.Context, id string) (gateway.ConnectionInfo, error)
	Disconnect(ctx context.Context, id string) error
	PostFrame(ctx context.Context, ids []string, frame []byte) (gone []string)
}

var (
	_ gateway.Cluster            = (*Node)(nil)
	_ gateway.ClusterBroadcaster = (*Node)(nil)
	_ Local                      = (*gateway.Server)(nil)
)

// maxPrefixClaims bounds the tries at a prefix no live node has.
const maxPrefixClaims = 8

// Node is one gateway node's membership of a cluster. Join it, pass it as
// gateway.Options.Cluster, Serve the gateway, and Close it after the
// gateway's Shutdown.
type Node struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	ns     *server.Server // the embedded server; nil with an external NATS
	prefix string
	base   string // switchboard.<api>.node.

	mu     sync.Mutex
	sub    *nats.Subscription
	closed bool

	refusals atomic.Uint64
	logEvery sometimes
	metrics  metrics
	// reconnectedAt is when the connection to NATS was last restored
	// (unix nanoseconds; 0: never lost).
	reconnectedAt atomic.Int64
	link          linkState

	// live is the dead-node detection (liveness.go), from Serve to Close;
	// onDead is what it calls for a dead node.
	live   *liveness
	onDead DeadFunc
	clock  func() time.Time // the liveness clock; nil: time.Now (tests set it)

	// gone holds the prefixes found without responder for longer than
	// ResponderGrace: their ids are answered 410 at once from then on.
	goneMu sync.Mutex
	gone   map[string]struct{}
}

// maxGonePrefixes bounds Node.gone; when full it starts afresh (a prefix
// forgotten costs one more grace period, nothing else).
const maxGonePrefixes = 4096

// Join connects to the cluster (starting the embedded NATS server first
// when cfg says so) and claims a node prefix no live node has.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cfg.applyDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, base: "switchboard." + cfg.API + ".node.", logEvery: sometimes{every: 10 * time.Second}}
	timeout := DefaultJoinTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	opts := []nats.Option{
		nats.Name("switchboard"),
		nats.Timeout(timeout),
		nats.RetryOnFailedConnect(false),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			n.log.Warn("cluster: NATS error", "err", err)
		}),
	}
	opts = append(opts, n.reconnectOptions()...)
	url := cfg.URL
	if cfg.Embedded() {
		ns, user, pass, err := startEmbedded(&n.cfg, timeout)
		if err != nil {
			return nil, err
		}
		n.ns = ns
		url = ""
		opts = append(opts, nats.InProcessServer(ns), nats.UserInfo(user, pass))
	} else {
		if cfg.User != "" || cfg.Password != "" {
			opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
		}
		if cfg.Token != "" {
			opts = append(opts, nats.Token(cfg.Token))
		}
		if cfg.CAFile != "" {
			opts = append(opts, nats.RootCAs(cfg.CAFile))
		}
		if cfg.CertFile != "" {
			opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
		}
		if cfg.TLSRequired {
			opts = append(opts, nats.Secure())
		}
		co, err := credsOptions(&cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, co...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		n.stopEmbedded()
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", redact(cfg.URL), err)
	}
	n.nc = nc
	if err := n.claimPrefix(ctx); err != nil {
		nc.Close()
		n.stopEmbedded()
		return nil, err
	}
	n.log = n.log.With("node", n.prefix)
	if n.ns != nil && len(cfg.Peers) > 0 {
		n.awaitPeer(ctx, n.cfg.PeerWait)
	}
	return n, nil
}

// stableRouteTicks is how many 20 ms ticks in a row a route must be
// listed before awaitPeer takes the node for routed.
const stableRouteTicks = 3

// awaitPeer waits until the embedded server is routed to a peer, or
// timeout: a node that serves clients before its routes are up cannot
// reach the others' connections (410 for live ones), nor they its own. The
// first node of a cluster may have no live peer yet: it goes on alone,
// with a warning, and the routes form when the peers come.
func (n *Node) awaitPeer(ctx context.Context, timeout time.Duration) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(timeout)
	// A route is listed from its first INFO, before the peer has checked
	// the secret: one refused a moment later must not count as a peer, so
	// a route counts once seen on stableRouteTicks ticks in a row.
	for seen := 0; ; {
		if n.Peers() == 0 {
			seen = 0
		} else if seen++; seen == stableRouteTicks {
			return
		}
		select {
		case <-t.C:
		case <-deadline:
			n.log.Warn("cluster: no peer reachable yet; serving alone until the routes form", "peers", n.cfg.Peers, "waited", timeout)
			return
		case <-ctx.Done():
			return
		}
	}
}

// claimPrefix picks a random prefix that no live node answers to.
func (n *Node) claimPrefix(ctx context.Context) error {
	for range maxPrefixClaims {
		var b [3]byte
		rand.Read(b[:])
		p := base64.RawURLEncoding.EncodeToString(b[:])
		cctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
		_, err := n.nc.RequestWithContext(cctx, n.subject(p, opPing), []byte{wireVersion})
		cancel()
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			n.prefix = p
			return nil
		case err == nil:
			continue // taken
		case ctx.Err() != nil:
			return fmt.Errorf("cluster: join: %w", ctx.Err())
		default:
			return fmt.Errorf("cluster: join: checking node prefix %s: %w", p, err)
		}
	}
	return errors.New("cluster: join: no free node prefix found")
}

// NodePrefix implements gateway.Cluster: the prefix of this node's
// connection ids, and the token of its subjects.
func (n *Node) NodePrefix() string { return n.prefix }

// ClusterAddr is the address of the embedded server's routes (nil with an
// external NATS): what other nodes list as a peer.
func (n *Node) ClusterAddr() net.Addr {
	if n.ns == nil {
		return nil
	}
	return n.ns.ClusterAddr()
}

// Peers is how many other servers the embedded server is routed to (0
// with an external NATS).
func (n *Node) Peers() int {
	if n.ns == nil {
		return 0
	}
	rz, err := n.ns.Routez(&server.RoutezOptions{})
	if err != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, r := range rz.Routes {
		seen[r.RemoteID] = true
	}
	return len(seen)
}

// Reachable reports whether the node of prefix answers (within the
// request timeout): a readiness check, e.g. before a load balancer sends
// clients to a node that just joined, whose interest may still be
// crossing the routes.
func (n *Node) Reachable(ctx context.Context, prefix string) bool {
	st, _, err := n.request(ctx, prefix, opPing, []byte{wireVersion})
	return err == nil && st == statusOK
}

// Refused counts the cluster messages this node refused as malformed or
// oversized.
func (n *Node) Refused() uint64 { return n.refusals.Load() }

func (n *Node) subject(prefix, op string) string { return n.base + prefix + "." + op }

// Subjects is the wildcard of every node's subjects of op (post, get,
// delete, batch) for the API: what an operator subscribes to in order to
// watch the traffic.
func Subjects(api, op string) string { return "switchboard." + api + ".node.*." + op }

// Serve answers the other nodes' requests for local's connections until
// Close. It returns once subscribed (and the subscription is known to the
// NATS server).
func (n *Node) Serve(local Local) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("cluster: node is closed")
	}
	if n.sub != nil {
		return errors.New("cluster: already serving")
	}
	h := &handler{n: n, local: local}
	sub, err := n.nc.Subscribe(n.base+n.prefix+".*", h.serve)
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	// Bounded: past these, NATS drops messages for this node (the senders
	// time out) and reports a slow consumer.
	sub.SetPendingLimits(DefaultPendingMessages, DefaultPendingBytes)
	if err := n.nc.Flush(); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := n.startLiveness(n.onDead); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe to beats: %w", err)
	}
	n.sub = sub
	n.log.Info("cluster: joined", "subjects", n.base+n.prefix+".*", "embedded", n.ns != nil)
	return nil
}

// Pending limits of a node's subscription.
const (
	DefaultPendingMessages = 65536
	DefaultPendingBytes    = 64 << 20
)

// Close leaves the cluster: requests already received are answered
// (drained), then the connection to NATS and the embedded server end.
// Close the gateway (Shutdown, which closes every client with 1001 and runs
// $disconnect) first: until Close, other nodes still reach its connections.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.stopLiveness()
	defer n.link.lost()
	closed := make(chan struct{})
	n.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	var err error
	if derr := n.nc.Drain(); derr != nil {
		n.nc.Close() // already closed, or cannot drain: nothing to wait for
	} else {
		select {
		case <-closed:
		case <-ctx.Done():
			n.nc.Close()
			err = ctx.Err()
		}
	}
	n.stopEmbedded()
	n.log.Info("cluster: left")
	return err
}

func (n *Node) stopEmbedded() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

// request sends one request to the node of prefix and returns the reply's
// status and body. No node (ErrNoResponders) is gateway.ErrGone.
func (n *Node) request(ctx context.Context, prefix, op string, msg []byte) (byte, []byte, error) {
	link := n.link.current()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	defer context.AfterFunc(link, cancel)()
	if !n.nc.IsConnected() {
		return 0, nil, fmt.Errorf("cluster: node %s not reachable: %w", prefix, errNotConnected)
	}
	rep, err := n.nc.RequestWithContext(ctx, n.subject(prefix, op), msg)
	if errors.Is(err, nats.ErrNoResponders) && op != opPing && n.cfg.ResponderGrace > 0 && !n.knownGone(prefix) {
		// Nobody received it, so asking again is safe: a node that just
		// began serving may not be known across the routes yet.
		grace := time.NewTimer(n.cfg.ResponderGrace)
		retry := time.NewTicker(25 * time.Millisecond)
	wait:
		for errors.Is(err, nats.ErrNoResponders) {
			select {
			case <-retry.C:
				rep, err = n.nc.RequestWithContext(ctx, n.subject(prefix, op), msg)
			case <-grace.C:
				if n.settling() {
					// Perhaps a node that has not reconnected yet.
					err = fmt.Errorf("no node answers on prefix %s since NATS reconnected; not taken for gone yet", prefix)
					break wait
				}
				n.markGone(prefix)
				break wait
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		grace.Stop()
		retry.Stop()
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		n.metrics.noResponderGone.Add(1)
		return 0, nil, gateway.ErrGone
	case errors.Is(err, context.DeadlineExceeded):
		return 0, nil, &timeoutError{prefix, n.cfg.RequestTimeout}
	case link.Err() != nil && errors.Is(err, context.Canceled):
		return 0, nil, fmt.Errorf("cluster: node %s: %w", prefix, errLinkLost)
	case disconnected(err):
		return 0, nil, fmt.Errorf("cluster: node %s not reachable: %w", prefix, errNotConnected)
	case err != nil:
		return 0, nil, fmt.Errorf("cluster: node %s: %w", prefix, err)
	}
	st, body, err := parseReply(rep.Data)
	if err != nil {
		return 0, nil, fmt.Errorf("cluster: node %s: %w", prefix, err)
	}
	return st, body, nil
}

func (n *Node) knownGone(prefix string) bool {
	n.goneMu.Lock()
	defer n.goneMu.Unlock()
	_, ok := n.gone[prefix]
	return ok
}

func (n *Node) markGone(prefix string) {
	n.goneMu.Lock()
	defer n.goneMu.Unlock()
	if n.gone == nil || len(n.gone) >= maxGonePrefixes {
		n.gone = make(map[string]struct{})
	}
	n.gone[prefix] = struct{}{}
}

// statusErr is the error of a reply status other than OK.
func statusErr(prefix string, st byte, body []byte) error {
	switch st {
	case statusGone:
		return gateway.ErrGone
	case statusTooLarge:
		return gateway.ErrPayloadTooLarge
	default:
		return fmt.Errorf("cluster: node %s: %s", prefix, body)
	}
}

func (n *Node) idRequest(ctx context.Context, id, op string, data []byte) (byte, []byte, error) {
	if !gateway.ValidConnectionID(id) {
		return 0, nil, gateway.ErrGone
	}
	prefix := id[:gateway.NodePrefixLen]
	st, body, err := n.request(ctx, prefix, op, appendIDRequest(make([]byte, 0, 1+idLen+len(data)), id, data))
	if err == nil && st != statusOK {
		err = statusErr(prefix, st, body)
	}
	n.metrics.countRequest(op, err)
	if err != nil {
		return 0, nil, err
	}
	return st, body, nil
}

// Post implements gateway.Cluster.
func (n *Node) Post(ctx context.Context, id string, data []byte) error {
	if len(data) > n.cfg.MaxMessageBytes {
		return gateway.ErrPayloadTooLarge
	}
	_, _, err := n.idRequest(ctx, id, opPost, data)
	return err
}

// Info implements gateway.Cluster.
func (n *Node) Info(ctx context.Context, id string) (gateway.ConnectionInfo, error) {
	_, body, err := n.idRequest(ctx, id, opGet, nil)
	if err != nil {
		return gateway.ConnectionInfo{}, err
	}
	info, err := parseInfo(body)
	if err != nil {
		return gateway.ConnectionInfo{}, fmt.Errorf("cluster: node %s: %w", id[:gateway.NodePrefixLen], err)
	}
	return info, nil
}

// Disconnect implements gateway.Cluster.
func (n *Node) Disconnect(ctx context.Context, id string) error {
	_, _, err := n.idRequest(ctx, id, opDelete, nil)
	return err
}

// PostMany implements gateway.Cluster: one message to the node carrying
// data once and the ids (several only when they do not fit NATS's maximum
// payload, or past 65,535 ids).
func (n *Node) PostMany(ctx context.Context, prefix string, ids []string, data []byte) (gone []string) {
	gone, _ = n.PostManyResult(ctx, prefix, ids, data)
	return gone
}

// PostManyResult implements gateway.ClusterBroadcaster: PostMany that also
// returns the ids it could not reach (not known to be gone).
func (n *Node) PostManyResult(ctx context.Context, prefix string, ids []string, data []byte) (gone, failed []string) {
	if len(data) > n.cfg.MaxMessageBytes {
		n.log.Warn("cluster: broadcast over the message limit not forwarded", "bytes", len(data), "limit", n.cfg.MaxMessageBytes)
		return ids, nil
	}
	per := int((n.nc.MaxPayload() - int64(batchRequestLen(0, len(data)))) / idLen)
	per = min(max(per, 1), 0xffff)
	for len(ids) > 0 {
		chunk := ids[:min(per, len(ids))]
		ids = ids[len(chunk):]
		n.metrics.batchesSent.Add(1)
		st, body, err := n.request(ctx, prefix, opBatch, appendBatchRequest(make([]byte, 0, batchRequestLen(len(chunk), len(data))), chunk, data))
		if err == nil && st != statusOK {
			err = statusErr(prefix, st, body)
		}
		n.metrics.countRequest(opBatch, err)
		var g []string
		if err == nil {
			g, err = parseIDs(body)
		}
		switch {
		case errors.Is(err, gateway.ErrGone):
			gone = append(gone, chunk...)
		case err != nil:
			// Not known to be gone: the node may hold them still.
			n.log.Warn("cluster: broadcast to a node failed", "to", prefix, "connections", len(chunk), "err", err)
			failed = append(failed, chunk...)
		default:
			gone = append(gone, g...)
		}
	}
	return gone, failed
}

func redact(u string) string {
	if u == "" {
		return "(embedded)"
	}
	return redactURL(u)
}
