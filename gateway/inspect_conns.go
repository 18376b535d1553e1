package gateway

import (
	"cmp"
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
	// Identity is the authorizer's context (nil without an authorizer).
	Identity    map[string]any    `json:"identity,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	BytesIn     uint64            `json:"bytesIn"`
	BytesOut    uint64            `json:"bytesOut"`
}

// InspectConnections lists this node's open connections, newest first, at
// most DefaultInspectConnections of them, and says how many are open.
func (s *Server) InspectConnections(ctx context.Context) (list []InspectConn, total int) {
	var all []*conn
	s.reg.each(func(c *conn) { all = append(all, c) })
	slices.SortFunc(all, func(a, b *conn) int {
		return cmp.Or(cmp.Compare(b.meta.connectedAt, a.meta.connectedAt), cmp.Compare(a.meta.id, b.meta.id))
	})
	total = len(all)
	all = all[:min(len(all), DefaultInspectConnections)]
	list = make([]InspectConn, 0, len(all))
	for _, c := range all {
		ic := InspectConn{
			ID:           c.meta.id,
			ConnectedAt:  time.UnixMilli(c.meta.connectedAt),
			LastActiveAt: time.Unix(0, c.lastActive.Load()),
			SourceIP:     c.meta.sourceIP,
			UserAgent:    c.meta.userAgent,
			Identity:     c.meta.authorizer.event(),
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
