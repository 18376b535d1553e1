package gateway

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// readManagementBody reads the body of a management API request, at most
// limit bytes (the caller refuses a longer declared length first). A POST
// with a declared length is read straight into a text frame, after room for
// its header: the payload is body, and frame is what a local connection is
// sent, without a second copy. Otherwise frame is nil. What the body holds
// beyond its declared length is not read: net/http's server ends the body
// there.
func readManagementBody(r *http.Request, limit int) (body, frame []byte, err error) {
	n := r.ContentLength
	// (0 is read as unknown too: a Body set by hand on a request made
	// without one keeps ContentLength 0.)
	if r.Method != http.MethodPost || n <= 0 || n > int64(limit) {
		body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
		return body, nil, err
	}
	frame = wsproto.AppendHeader(make([]byte, 0, wsproto.HeaderLen(int(n))+int(n)), wsproto.OpText, int(n))
	h := len(frame)
	frame = frame[:h+int(n)]
	if _, err := io.ReadFull(r.Body, frame[h:]); err != nil {
		return nil, nil, err
	}
	return frame[h:], frame, nil
}

// post is Post with the text frame of data prepared already when frame is
// not nil.
func (s *Server) post(ctx context.Context, id string, data, frame []byte) error {
	if len(data) > s.limits.MaxMessageBytes {
		return ErrPayloadTooLarge
	}
	c := s.reg.get(id)
	if c == nil {
		if s.remote(id) {
			return s.cluster.Post(ctx, id, data)
		}
		return ErrGone
	}
	if frame == nil {
		frame = wsproto.TextFrame(data)
	}
	// A connection with nothing queued is written here, without waiting,
	// as PostFrame writes (writeClaimed): no writer goroutine to start and
	// wake for one frame. Counted in s.wg from before the claim until
	// writeClaimed has counted any writer it starts (see PostFrame).
	s.wg.Add(1)
	defer s.wg.Done()
	claimed, err := c.enqueueOrClaim(frame, time.Now().UnixNano(), directWrites)
	if err != nil {
		return err
	}
	s.metrics.messagesOut.Add(1)
	if claimed {
		c.writeClaimed(frame)
	}
	return nil
}
