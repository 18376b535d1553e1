package gateway

import (
	"container/heap"
	"context"
	"slices"
	"time"
)

// What the inspector shows of the connections.

// DefaultInspectConnections is the most connections InspectConnections
// lists (the newest); it also says how many there are in all.
const DefaultInspectConnections = 500

// DefaultInspectAnnotated is how many of the listed connections (the
// newest) InspectConnections asks Options.Annotate about: a store call
// each, every time the page refreshes.
const DefaultInspectAnnotated = 100

// Annotator tells what the application knows of a connection, for the
// inspector (Options.Annotate): {"rooms": "general, random"} for the chat
// backend. It is called for each listed connection when an inspector asks,
// never on the hot path.
type Annotator func(ctx context.Context, connectionID string) map[string]string

// InspectConn is one open connection as the inspector shows it.
type InspectConn struct {
	ID           string    `json:"id"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent,omitempty"`
	// Identity is the authorizer's context (nil without an authorizer),
	// credentials redacted as in an invocation's event.
	Identity    map[string]any    `json:"identity,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	BytesIn     uint64            `json:"bytesIn"`
	BytesOut    uint64            `json:"bytesOut"`
}

// InspectConnections lists this node's open connections, newest first, at
// most DefaultInspectConnections of them, and says how many are open. The
// newest are picked in one pass, keeping only them (a heap of
// DefaultInspectConnections): O(n) with 100,000 open, not a sort of all.
func (s *Server) InspectConnections(ctx context.Context) (list []InspectConn, total int) {
	all := make(newestConns, 0, DefaultInspectConnections)
	s.reg.each(func(c *conn) {
		total++
		switch {
		case len(all) < DefaultInspectConnections:
			heap.Push(&all, c)
		case newer(c, all[0]):
			all[0] = c
			heap.Fix(&all, 0)
		}
	})
	slices.SortFunc(all, func(a, b *conn) int {
		if newer(a, b) {
			return -1
		}
		return 1
	})
	list = make([]InspectConn, 0, len(all))
	for _, c := range all {
		ic := InspectConn{
			ID:           c.meta.id,
			ConnectedAt:  time.UnixMilli(c.meta.connectedAt),
			LastActiveAt: time.Unix(0, c.lastActive.Load()),
			SourceIP:     c.meta.sourceIP,
			UserAgent:    c.meta.userAgent,
			Identity:     redactContext(c.meta.authorizer.event()),
		}
		c.mu.Lock()
		ic.BytesIn, ic.BytesOut = c.counts.in, c.counts.out
		c.mu.Unlock()
		if s.opts.Annotate != nil && len(list) < DefaultInspectAnnotated {
			ic.Annotations = s.opts.Annotate(ctx, c.meta.id)
		}
		list = append(list, ic)
	}
	return list, total
}

// newer orders connections newest first (by id when they connected in the
// same millisecond).
func newer(a, b *conn) bool {
	if a.meta.connectedAt != b.meta.connectedAt {
		return a.meta.connectedAt > b.meta.connectedAt
	}
	return a.meta.id < b.meta.id
}

// newestConns is a heap whose root is the oldest of the newest kept.
type newestConns []*conn

func (h newestConns) Len() int           { return len(h) }
func (h newestConns) Less(i, j int) bool { return newer(h[j], h[i]) }
func (h newestConns) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestConns) Push(x any)        { *h = append(*h, x.(*conn)) }
func (h *newestConns) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
