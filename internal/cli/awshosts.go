package cli

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"

	"github.com/switchboard-ws/switchboard/internal/localonly"
)

// awsHosts answers, on the gateway's port, for AWS's own host names of the
// services serve has local endpoints for: dynamodb.{region}.amazonaws.com
// and streams.dynamodb.{region}.amazonaws.com (proxied to
// --dynamodb-endpoint), sqs.{region}.amazonaws.com (the local SQS API).
// Code that ignores AWS_ENDPOINT_URL_* and cannot be patched — aws-sdk v2
// bundled into the function's file by esbuild, as CDK's NodejsFunction
// does — then still reaches them: its connections to those names come here
// (the Node.js runtime's redirect, or the CONNECT proxy), over TLS with a
// certificate that names them. Only loopback clients are answered.
type awsHosts map[string]http.Handler

// newAWSHosts builds the table for region; ddb is --dynamodb-endpoint ("" for
// none), sqs the local SQS API (nil for none).
func newAWSHosts(region, ddb string, sqs http.Handler) (awsHosts, error) {
	h := awsHosts{}
	if ddb != "" {
		u, err := url.Parse(ddb)
		if err != nil {
			return nil, err
		}
		proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the signature covers it
		}}
		h["dynamodb."+region+".amazonaws.com"] = proxy
		h["streams.dynamodb."+region+".amazonaws.com"] = proxy
	}
	if sqs != nil {
		h["sqs."+region+".amazonaws.com"] = sqs
	}
	return h, nil
}

// names are the host names, sorted.
func (h awsHosts) names() []string {
	out := make([]string, 0, len(h))
	for n := range h {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// handler serves the requests for h's host names, and passes the others to
// next.
func (h awsHosts) handler(next http.Handler) http.Handler {
	if len(h) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		svc, ok := h[host]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if why, _ := localonly.Check(r); why != "" {
			http.Error(w, "this name is served to the local functions only", http.StatusForbidden)
			return
		}
		svc.ServeHTTP(w, r)
	})
}
