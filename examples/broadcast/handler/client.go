package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"runtime/debug"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// DefaultGCPercent is the garbage collector's target (GOGC) the handler
// runs with unless the environment sets GOGC: the SDK allocates about
// 20 KB per post in some 230 objects, nearly all garbage at once, and the
// handler's live heap is small, so at Go's default of 100 a broadcast to
// 10,000 connections runs many collections; at 400 the heap may grow to
// five times the live data between them, and the handler spent about a
// fifth less CPU per broadcast (examples/broadcast/README.md).
const DefaultGCPercent = 400

// tuneGC applies DefaultGCPercent unless GOGC is set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}

// DefaultMaxBufferedBody is the largest request body wholeBody reads into
// memory: the @connections API's largest payload (128 KB).
const DefaultMaxBufferedBody = 128 << 10

// newHTTPClient is the HTTP client of every SDK client the handler makes:
// one for the process, so that its connections to the gateway stay open
// between messages, with an idle connection kept per poster (the SDK's
// default transport keeps 10, and the other posters would open a new TCP
// connection per post).
func newHTTPClient(posters int) aws.HTTPClient {
	return wholeBody{awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(posters, 10)
	})}
}

// wholeBody hands the transport each request's body as a bytes.Reader.
// net/http writes the header and the body of a request in one write when
// the body is one of the in-memory readers it knows, and in two (flushing
// the header first) otherwise, which is what the SDK's own body type gets:
// 4 system calls per post instead of 3. Bodies over
// DefaultMaxBufferedBody, or of unknown length, pass through unchanged.
type wholeBody struct{ next aws.HTTPClient }

func (c wholeBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > DefaultMaxBufferedBody {
		return c.next.Do(r)
	}
	p, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(p))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(p)), nil }
	return c.next.Do(r)
}
