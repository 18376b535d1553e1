package tlsmux

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/localca"
)

func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ca, _, err := localca.Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"http/1.1"}}, pool
}

func serve(t *testing.T, opts Options) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(inner, opts)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			io.WriteString(w, "tls")
		} else {
			io.WriteString(w, "plain")
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestOnePortAnswersTLSAndPlain(t *testing.T) {
	t.Parallel()
	cfg, pool := testTLS(t)
	ln := serve(t, Options{TLS: cfg})
	addr := ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for range 3 { // keep-alive connections of both kinds, reused
		if got := get(t, client, "https://"+addr+"/"); got != "tls" {
			t.Fatalf("https: got %q", got)
		}
		if got := get(t, client, "http://"+addr+"/"); got != "plain" {
			t.Fatalf("http: got %q", got)
		}
	}
	// A client that does not trust the certificate fails the handshake;
	// the listener keeps serving others.
	if _, err := http.Get("https://" + addr + "/"); err == nil {
		t.Fatal("https without trusting the CA succeeded")
	}
	if got := get(t, client, "http://"+addr+"/"); got != "plain" {
		t.Fatalf("http after a failed handshake: got %q", got)
	}
}

func TestWithoutTLSEverythingIsPlain(t *testing.T) {
	t.Parallel()
	ln := serve(t, Options{})
	if got := get(t, http.DefaultClient, "http://"+ln.Addr().String()+"/"); got != "plain" {
		t.Fatalf("got %q", got)
	}
}

func TestSilentClientIsClosedWithoutDelayingOthers(t *testing.T) {
	t.Parallel()
	cfg, _ := testTLS(t)
	ln := serve(t, Options{TLS: cfg, SniffTimeout: 300 * time.Millisecond})
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Others are served while the silent one waits.
	if got := get(t, http.DefaultClient, "http://"+ln.Addr().String()+"/"); got != "plain" {
		t.Fatalf("got %q", got)
	}
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("silent client: want the server to close it, got %v", err)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func TestPlainConnectionsKeepTheirSocket(t *testing.T) {
	t.Parallel()
	cfg, _ := testTLS(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(inner, Options{TLS: cfg})
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(syscall.Conn); !ok {
		t.Fatal("a plain connection lost its syscall.Conn: the gateway's direct writes would stop")
	}
	b := make([]byte, 64)
	n, _ := io.ReadAtLeast(c, b, 5)
	if string(b[:5]) != "GET /" {
		t.Fatalf("first bytes %q: the sniffed byte was not put back", b[:n])
	}
}

func TestCloseEndsAcceptAndPendingConnections(t *testing.T) {
	t.Parallel()
	cfg, _ := testTLS(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(inner, Options{TLS: cfg, SniffTimeout: time.Minute})
	pending, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	closed := make(chan struct{})
	go func() { ln.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a connection was being sniffed")
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	pending.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := pending.Read(make([]byte, 1)); err == nil {
		t.Fatal("the pending connection was not closed")
	}
}
