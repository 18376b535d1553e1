package main

import (
	"net/http"
	"os"
	"runtime/debug"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/switchboard-ws/switchboard/push"
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

// newHTTPClient is the HTTP client of every SDK client the handler makes:
// one for the process, so that its connections to the gateway stay open
// between messages, with an idle connection kept per poster (the SDK's
// default transport keeps 10, and the other posters would open a new TCP
// connection per post), handing net/http each body whole so that a post's
// header and body go in one write (push.WholeBody).
func newHTTPClient(posters int) aws.HTTPClient {
	return push.WholeBody(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(posters, 10)
	}))
}
