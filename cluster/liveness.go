package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-ws/switchboard/gateway"
)

// Dead-node detection (docs/cluster.md, "A node that dies").
//
// Every serving node publishes a beat, its prefix, on
// switchboard.<api>.beat every BeatInterval, and records the beats of the
// others. A node is declared dead when BOTH hold:
//
//  1. no beat of it has arrived for DeadAfter (counted from when this
//     observer itself last (re)connected to NATS, so that an observer cut
//     off from NATS judges nobody on what it could not hear), and
//  2. NATS says that nobody subscribes to its subjects: a ping to
//     switchboard.<api>.node.<prefix>.ping gets "no responders".
//
// The second condition is what keeps a slow node alive: a node that is
// starved of CPU, paused by a long GC or stuck behind a full socket still
// holds its NATS connection and its subscription, so the ping is answered
// or times out, and it is spared. Only a node whose NATS connection is
// gone (a process killed, whose sockets the kernel closed; a machine lost,
// once NATS's own pings drop its route or connection) has no responders.
// The first condition makes a brief loss of that connection harmless: a
// node that reconnects to NATS (a NATS server restart, a route that flaps)
// within DeadAfter beats again before anyone judges it.
//
// This is how Centrifuge tracks its nodes (a node info message every 3 s,
// forgotten after 7 s), with NATS's own view of the node as the tie
// breaker, rather than a timeout alone.
//
// When a node is declared dead, its ids are 410 at once on the observer,
// and one surviving node, the live node (as the observer sees the
// cluster, itself included) with the smallest prefix, calls the OnNodeDead
// function: the chat removes the dead node's connections from its store
// and announces who left. Should that node die in turn before it is done,
// the next smallest takes over (each node remembers the dead prefixes it
// did not reap itself). The store hands each connection to one caller
// only, so two nodes that briefly disagree on who is smallest still
// remove each connection once.
//
// A node that was declared dead and beats again (a partition longer than
// DeadAfter that healed) is taken back: its ids are no longer 410.

// Defaults of the dead-node detection.
const (
	// DefaultBeatInterval is how often a node tells the others it is alive.
	DefaultBeatInterval = time.Second
	// DefaultDeadAfter is how long a node may be silent before the others
	// ask NATS whether it is still subscribed; it must outlast a
	// reconnection to NATS (the client waits 2 s between attempts).
	DefaultDeadAfter = 5 * time.Second
	// deadMemory is how long a dead prefix is remembered (at least, and
	// at least ten times DeadAfter), for a reaper
	// that takes over from another; past it, the connection TTL has
	// removed its connections anyway.
	deadMemory = time.Hour
	// maxPeers bounds the prefixes tracked (beats of more nodes than this
	// are ignored until some are forgotten).
	maxPeers = 4096
)

// Beat messages: v kind[1] prefix[4].
const (
	beatAlive  byte = 1 // the node of prefix serves
	beatLeave  byte = 2 // the node of prefix leaves (Close): not dead, gone
	beatReaped byte = 3 // the dead node of prefix was cleaned up (by the sender)
)

// DeadFunc is called, on one surviving node, for a node declared dead:
// it cleans up what the dead node left behind (its connections in a
// shared store). An error makes the node call it again on a later beat.
type DeadFunc func(ctx context.Context, prefix string) error

// OnNodeDead sets the function called, on one surviving node, when a node
// is declared dead. Set it before Serve.
func (n *Node) OnNodeDead(f DeadFunc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onDead = f
}

// Liveness counts the dead-node detection's decisions.
type Liveness struct {
	Declared uint64 // nodes declared dead
	Spared   uint64 // silent nodes that NATS still saw subscribed (slow, not dead)
	Revived  uint64 // nodes declared dead that beat again
	Reaped   uint64 // OnNodeDead calls that succeeded on this node
}

// Liveness returns the counts of this node's dead-node detection.
func (n *Node) Liveness() Liveness {
	n.mu.Lock()
	l := n.live
	n.mu.Unlock()
	if l == nil {
		return Liveness{}
	}
	return Liveness{Declared: l.declared.Load(), Spared: l.spared.Load(), Revived: l.revived.Load(), Reaped: l.reaped.Load()}
}

// peerState is what a node knows of another.
type peerState struct {
	heard    time.Time // its last beat
	answered time.Time // its last answer to a ping, while silent (slow)
	dead     bool
	deadAt   time.Time
	reaping  bool // handed to the reaper, not done yet
	reaped   bool // OnNodeDead succeeded here
}

// liveness is a node's beats and its view of the others.
type liveness struct {
	n      *Node
	now    func() time.Time
	onDead DeadFunc

	mu         sync.Mutex
	peers      map[string]*peerState
	since      time.Time // this node's NATS connection is up since
	reconnects uint64

	sub    *nats.Subscription
	reapq  chan string
	stop   chan struct{}
	ctx    context.Context // of the OnNodeDead calls; cancelled by stopLiveness
	cancel context.CancelFunc
	wg     sync.WaitGroup

	declared, spared, revived, reaped atomic.Uint64
	failLog                           sometimes // failed clean-ups, retried every beat
}

func (n *Node) beatSubject() string { return "switchboard." + n.cfg.API + ".beat" }

// startLiveness subscribes to the beats and starts the beat loop and the
// reaper; stopLiveness ends them.
func (n *Node) startLiveness(onDead DeadFunc) error {
	now := n.clock
	if now == nil {
		now = time.Now
	}
	l := &liveness{n: n, now: now, onDead: onDead, peers: map[string]*peerState{}, failLog: sometimes{every: 10 * time.Second},
		reapq: make(chan string, 64), stop: make(chan struct{})}
	l.since = l.now()
	l.ctx, l.cancel = context.WithCancel(context.Background())
	sub, err := n.nc.Subscribe(n.beatSubject(), l.onBeat)
	if err != nil {
		return err
	}
	// Once Serve returns, this node hears every beat published after: the
	// subscription is known to the server (a beat from another connection
	// could otherwise overtake it).
	if err := n.nc.FlushTimeout(n.cfg.RequestTimeout); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("subscribing to the beats: %w", err)
	}
	l.sub = sub
	n.live = l
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.reaper()
	}()
	l.beat() // the first at once, before Serve returns
	// Two loops: the beats go out on time even while check waits for the
	// pings of silent nodes (up to RequestTimeout each).
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		l.every(l.beat)
	}()
	go func() {
		defer l.wg.Done()
		l.every(func() { l.check(l.now()) })
	}()
	return nil
}

// stopLiveness tells the others this node leaves, and ends the loops.
func (n *Node) stopLiveness() {
	l := n.live
	if l == nil {
		return
	}
	n.nc.Publish(n.beatSubject(), []byte{wireVersion, beatLeave, n.prefix[0], n.prefix[1], n.prefix[2], n.prefix[3]})
	l.sub.Unsubscribe()
	l.cancel()
	close(l.stop)
	l.wg.Wait()
}

// every runs f every BeatInterval until stopLiveness.
func (l *liveness) every(f func()) {
	t := time.NewTicker(l.n.cfg.BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// beat tells the others this node is alive.
func (l *liveness) beat() {
	p := l.n.prefix
	l.n.nc.Publish(l.n.beatSubject(), []byte{wireVersion, beatAlive, p[0], p[1], p[2], p[3]})
}

// onBeat records another node's beat (or its leaving).
func (l *liveness) onBeat(m *nats.Msg) {
	d := m.Data
	if len(d) != 2+gateway.NodePrefixLen || d[0] != wireVersion || d[1] < beatAlive || d[1] > beatReaped {
		l.refuse(m, "malformed beat")
		return
	}
	p := string(d[2:])
	if !gateway.ValidNodePrefix(p) {
		l.refuse(m, "beat of an invalid node prefix")
		return
	}
	if p == l.n.prefix {
		return
	}
	now := l.now()
	if l.record(p, d[1], now) {
		// A node this one did not know: perhaps one that just joined, and
		// did not hear this node's beats yet. It hears one now, rather
		// than up to a BeatInterval later: a node that dies in its first
		// second of company is judged all the same.
		l.beat()
	}
}

// record notes a beat of kind from the node of p, received at now, and
// reports whether p is a node this one did not know.
func (l *liveness) record(p string, kind byte, now time.Time) (isNew bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.peers[p]
	switch kind {
	case beatLeave:
		delete(l.peers, p)
		return false
	case beatReaped:
		// Perhaps before this node declares it dead itself: remembered.
		if st != nil {
			st.reaped = true
		}
		return false
	}
	if st == nil {
		if len(l.peers) >= maxPeers {
			return false
		}
		st = &peerState{}
		l.peers[p] = st
		isNew = true
		l.n.log.Info("cluster: node seen", "peer", p)
	}
	st.heard = now
	if st.dead {
		st.dead, st.reaped, st.reaping = false, false, false
		l.revived.Add(1)
		l.n.unmarkGone(p)
		l.n.log.Warn("cluster: a node declared dead beats again: its ids are served again; "+
			"the connections removed meanwhile come back with their clients' next heartbeat", "peer", p)
	}
	return isNew
}

// check judges the silent nodes at now, and hands the dead ones this node
// must clean up to the reaper.
func (l *liveness) check(now time.Time) {
	dead := l.n.cfg.DeadAfter
	l.mu.Lock()
	rc := l.n.nc.Stats().Reconnects
	if !l.n.nc.IsConnected() || rc != l.reconnects {
		// Cut off from NATS, this node heard no beats: count afresh.
		l.reconnects, l.since = rc, now
	}
	var suspects []string
	for p, st := range l.peers {
		switch {
		case st.dead && now.Sub(st.deadAt) > max(deadMemory, 10*dead):
			delete(l.peers, p)
		case !st.dead && now.Sub(later(later(st.heard, st.answered), l.since)) >= dead:
			suspects = append(suspects, p)
		}
	}
	l.mu.Unlock()

	for _, p := range suspects {
		ctx, cancel := context.WithTimeout(l.ctx, l.n.cfg.RequestTimeout)
		_, err := l.n.nc.RequestWithContext(ctx, l.n.subject(p, opPing), []byte{wireVersion})
		cancel()
		if l.ctx.Err() != nil {
			return // leaving
		}
		l.mu.Lock()
		st := l.peers[p]
		switch {
		case st == nil || st.dead || now.Sub(later(st.heard, l.since)) < dead:
			// It beat, or left, meanwhile.
		case errors.Is(err, nats.ErrNoResponders):
			st.dead, st.deadAt = true, now
			l.declared.Add(1)
			l.n.markGone(p)
			l.n.log.Warn("cluster: node declared dead: silent and no longer subscribed", "peer", p, "silentFor", now.Sub(st.heard).Round(time.Millisecond))
		default:
			// Subscribed still (it answered, or the ping timed out): slow,
			// not dead. It is asked again after another DeadAfter.
			st.answered = now
			l.spared.Add(1)
			l.n.log.Info("cluster: node silent but still subscribed: not dead", "peer", p, "ping", errString(err))
		}
		l.mu.Unlock()
	}
	if l.onDead != nil {
		l.handOver(now)
	}
}

// handOver gives the reaper the dead nodes this node must clean up: all
// of them not reaped yet, when this node has the smallest prefix of the
// nodes heard beating within DeadAfter. A node that is silent but spared
// (slow) does not count: stuck, it would never clean up.
func (l *liveness) handOver(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var pending []string
	for p, st := range l.peers {
		if st.dead {
			if !st.reaped && !st.reaping {
				pending = append(pending, p)
			}
			continue
		}
		if p < l.n.prefix && now.Sub(later(st.heard, l.since)) < l.n.cfg.DeadAfter {
			return // a live node with a smaller prefix does it
		}
	}
	slices.Sort(pending)
	for _, p := range pending {
		select {
		case l.reapq <- p:
			l.peers[p].reaping = true
		default:
			return // the reaper is behind: the next beat hands it over
		}
	}
}

// reaper calls OnNodeDead for the prefixes handed over, one at a time,
// until stopLiveness.
func (l *liveness) reaper() {
	for {
		select {
		case <-l.stop:
			return
		case p := <-l.reapq:
			err := l.onDead(l.ctx, p)
			l.mu.Lock()
			if st := l.peers[p]; st != nil {
				st.reaping = false
				st.reaped = err == nil && st.dead
			}
			l.mu.Unlock()
			if err != nil {
				l.failLog.do(func(skipped int) {
					l.n.log.Warn("cluster: cleaning up after a dead node failed; trying again every beat", "peer", p, "err", err, "failedSinceLastLog", skipped)
				})
				continue
			}
			l.reaped.Add(1)
			// The others need not do it again should this node die.
			l.n.nc.Publish(l.n.beatSubject(), []byte{wireVersion, beatReaped, p[0], p[1], p[2], p[3]})
		}
	}
}

// refuse counts and logs (at most every ten seconds) a beat that is not
// one: nothing is recorded from it.
func (l *liveness) refuse(m *nats.Msg, why string) {
	l.n.refusals.Add(1)
	l.n.logEvery.do(func(skipped int) {
		l.n.log.Warn("cluster: message refused", "subject", m.Subject, "bytes", len(m.Data), "reason", why, "refusedSinceLastLog", skipped)
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return "answered"
	}
	return err.Error()
}

func (n *Node) unmarkGone(prefix string) {
	n.goneMu.Lock()
	defer n.goneMu.Unlock()
	delete(n.gone, prefix)
}

func (c *Config) livenessDefaults() {
	if c.BeatInterval == 0 {
		c.BeatInterval = DefaultBeatInterval
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = max(DefaultDeadAfter, 2*c.BeatInterval)
	}
}

// validateLiveness checks BeatInterval and DeadAfter (nil when right).
func (c *Config) validateLiveness() error {
	beat := c.BeatInterval
	if beat == 0 {
		beat = DefaultBeatInterval
	}
	switch {
	case c.BeatInterval < 0:
		return fmt.Errorf("beatInterval: %v is negative", c.BeatInterval)
	case c.DeadAfter < 0:
		return fmt.Errorf("deadAfter: %v is negative", c.DeadAfter)
	case c.DeadAfter > 0 && c.DeadAfter < 2*beat:
		return fmt.Errorf("deadAfter: %v must be at least twice beatInterval (%v): a node must miss two beats before it is suspected", c.DeadAfter, beat)
	}
	return nil
}
