package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/localca"
)

// TestServeSpeaksHTTP1Only is docs/aws-parity.md's "HTTP/1.1 only": on
// serve's port, a TLS client that offers HTTP/2 by ALPN (as the AWS SDKs
// and browsers do) gets HTTP/1.1, for a management call and a wss upgrade
// alike; a client that speaks HTTP/2 without TLS (prior knowledge) is not
// served, nor is the HTTP/2 preface followed by garbage, and neither
// disturbs the HTTP/1.1 and WebSocket clients that come after.
func TestServeSpeaksHTTP1Only(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	t.Setenv(localca.EnvDir, caDir)
	cfg := filepath.Join(t.TempDir(), "api.yaml")
	if err := os.WriteFile(cfg, []byte("stage: dev\nrouteSelectionExpression: $request.body.action\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := startServe(t, "--config", cfg, "--addr", "127.0.0.1:0")
	ca, _, err := localca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	// A well-formed id no connection has: the management API answers 410.
	const path = "/dev/@connections/AAAAAAAAAAAAAAA="

	// post posts "hi" to path through c and checks the answer came over
	// HTTP/1.1 (and TLS negotiated http/1.1 when over TLS).
	post := func(t *testing.T, c *http.Client, url string) {
		t.Helper()
		resp, err := c.Post(url, "application/octet-stream", strings.NewReader("hi"))
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone || resp.Proto != "HTTP/1.1" {
			t.Errorf("POST %s: %s over %s, want 410 over HTTP/1.1", url, resp.Status, resp.Proto)
		}
		if resp.TLS != nil && resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Errorf("POST %s: ALPN chose %q, want http/1.1", url, resp.TLS.NegotiatedProtocol)
		}
	}
	h2TLS := &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}}
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: h2TLS, ForceAttemptHTTP2: true}, Timeout: 30 * time.Second}
	httpClient := &http.Client{Timeout: 30 * time.Second}
	// dialWS opens and closes a WebSocket connection over scheme.
	dialWS := func(t *testing.T, scheme string) {
		t.Helper()
		d := websocket.Dialer{TLSClientConfig: h2TLS.Clone(), HandshakeTimeout: 30 * time.Second}
		c, _, err := d.Dial(scheme+"://"+addr+"/dev", nil)
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		c.Close()
	}

	t.Run("TLS offering h2", func(t *testing.T) {
		post(t, httpsClient, "https://"+addr+path)
		dialWS(t, "wss")
	})

	t.Run("HTTP/2 without TLS", func(t *testing.T) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		h2c := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 30 * time.Second}
		resp, err := h2c.Post("http://"+addr+path, "application/octet-stream", strings.NewReader("hi"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("an HTTP/2 client without TLS was served: %s over %s", resp.Status, resp.Proto)
		}
		post(t, httpClient, "http://"+addr+path)
		dialWS(t, "ws")
	})

	t.Run("HTTP/2 preface and garbage", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 4096)...))
		// The gateway answers (or not) and closes; the deadline only
		// bounds a broken test.
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		// (With the garbage unread, closing may reset the connection.)
		got, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the gateway kept the connection open (read %q)", got)
		}
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
			t.Errorf("the gateway answered other than HTTP/1.1: %q", got)
		}
		post(t, httpClient, "http://"+addr+path)
		post(t, httpsClient, "https://"+addr+path)
		dialWS(t, "ws")
		dialWS(t, "wss")
	})
}
