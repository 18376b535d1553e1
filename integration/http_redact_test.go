package integration_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/integration"
)

// TestHTTPErrorsHideTheQuery: an HTTP integration's URL may carry a
// credential in its query (?code=...); its errors, which the gateway logs,
// and its description name the URL without it.
func TestHTTPErrorsHideTheQuery(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the call fails
	h := &integration.HTTP{URL: "http://user:pw@" + addr + "/fn?code=s3cr3t-code"}
	_, err = h.Invoke(context.Background(), []byte(`{}`))
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw@") || !strings.Contains(err.Error(), addr+"/fn") {
		t.Errorf("error %q", err)
	}
	if kind, name := h.Describe(); kind != "http" || name != "http://"+addr+"/fn" {
		t.Errorf("Describe() = %q, %q", kind, name)
	}
}
