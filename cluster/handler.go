package cluster

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// handler answers the requests of other nodes for local connections. NATS
// calls serve for one message at a time (per node); every operation is
// quick (it queues a frame or starts a close, never waits on a socket).
type handler struct {
	n     *Node
	local Local
}

func (h *handler) serve(m *nats.Msg) {
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	limit := h.n.cfg.MaxMessageBytes + batchRequestLen(0xffff, 0)
	if len(m.Data) > limit {
		h.refuse(m, statusTooLarge, "message of "+strconv.Itoa(len(m.Data))+" bytes is over the limit")
		return
	}
	ctx := context.Background()
	defer h.n.metrics.countServed(op)
	switch op {
	case opPing:
		h.respond(m, reply(statusOK, nil))
	case opPost:
		id, data, err := parseIDRequest(m.Data, true)
		if err != nil {
			h.refuse(m, statusBadRequest, err.Error())
			return
		}
		if len(data) > h.n.cfg.MaxMessageBytes {
			h.refuse(m, statusTooLarge, "data over the message limit")
			return
		}
		if !h.mine(id) {
			h.respond(m, reply(statusGone, nil))
			return
		}
		h.respond(m, h.result(id, h.local.Post(ctx, id, data), nil))
	case opGet:
		id, _, err := parseIDRequest(m.Data, false)
		if err != nil {
			h.refuse(m, statusBadRequest, err.Error())
			return
		}
		if !h.mine(id) {
			h.respond(m, reply(statusGone, nil))
			return
		}
		info, err := h.local.Info(ctx, id)
		var body []byte
		if err == nil {
			body = appendInfo(nil, info)
		}
		h.respond(m, h.result(id, err, body))
	case opDelete:
		id, _, err := parseIDRequest(m.Data, false)
		if err != nil {
			h.refuse(m, statusBadRequest, err.Error())
			return
		}
		if !h.mine(id) {
			h.respond(m, reply(statusGone, nil))
			return
		}
		h.respond(m, h.result(id, h.local.Disconnect(ctx, id), nil))
	case opBatch:
		h.n.metrics.batchesReceived.Add(1)
		ids, data, err := parseBatchRequest(m.Data)
		if err != nil {
			h.refuse(m, statusBadRequest, err.Error())
			return
		}
		if len(data) > h.n.cfg.MaxMessageBytes {
			h.refuse(m, statusTooLarge, "data over the message limit")
			return
		}
		// Only this node's ids: another's would be forwarded again.
		mine, gone := ids[:0:0], []string(nil)
		for _, id := range ids {
			if h.mine(id) {
				mine = append(mine, id)
			} else {
				gone = append(gone, id)
			}
		}
		if len(mine) > 0 {
			gone = append(gone, h.local.PostFrame(ctx, mine, wsproto.TextFrame(data))...)
		}
		h.respond(m, reply(statusOK, appendIDs(nil, gone)))
	default:
		h.refuse(m, statusBadRequest, "unknown operation "+op)
	}
}

// mine reports whether id is one of this node's: the local server would
// forward another's.
func (h *handler) mine(id string) bool { return strings.HasPrefix(id, h.n.prefix) }

// result is the reply to a post, get or delete of id.
func (h *handler) result(_ string, err error, body []byte) []byte {
	switch {
	case errors.Is(err, gateway.ErrGone):
		return reply(statusGone, nil)
	case errors.Is(err, gateway.ErrPayloadTooLarge):
		return reply(statusTooLarge, nil)
	case err != nil:
		return reply(statusError, []byte(err.Error()))
	}
	return reply(statusOK, body)
}

func (h *handler) respond(m *nats.Msg, data []byte) {
	if m.Reply == "" {
		return
	}
	if err := m.Respond(data); err != nil {
		h.n.logEvery.do(func(skipped int) {
			h.n.log.Warn("cluster: reply failed", "err", err, "alsoSince", skipped)
		})
	}
}

// refuse answers a malformed or oversized message with its status and
// logs it, at most once per logEvery.
func (h *handler) refuse(m *nats.Msg, status byte, why string) {
	h.n.refusals.Add(1)
	h.n.logEvery.do(func(skipped int) {
		h.n.log.Warn("cluster: message refused", "subject", m.Subject, "bytes", len(m.Data), "reason", why, "refusedSinceLastLog", skipped)
	})
	h.respond(m, reply(status, []byte(why)))
}

// sometimes runs f at most once per every; f is told how many calls were
// skipped since.
type sometimes struct {
	every   time.Duration
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (s *sometimes) do(f func(skipped int)) {
	s.mu.Lock()
	now := time.Now()
	if !s.last.IsZero() && now.Sub(s.last) < s.every {
		s.skipped++
		s.mu.Unlock()
		return
	}
	skipped := s.skipped
	s.last, s.skipped = now, 0
	s.mu.Unlock()
	f(skipped)
}

// redactURL hides the passwords of a comma-separated list of URLs.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
