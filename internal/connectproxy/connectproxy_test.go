package connectproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoServer answers each connection with what it reads, upper-cased.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 64)
				n, _ := c.Read(b)
				c.Write([]byte(strings.ToUpper(string(b[:n]))))
			}()
		}
	}()
	return ln.Addr().String()
}

func connect(t *testing.T, proxy, target string, header string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n"+header+"\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp.StatusCode
}

func TestRedirectsTheAPIHostAndTunnelsOthers(t *testing.T) {
	t.Parallel()
	gateway, other := echoServer(t), echoServer(t)
	p := &Proxy{Redirect: map[string]string{"abc.execute-api.us-east-1.amazonaws.com:443": gateway}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Close()
	proxyAddr := strings.TrimPrefix(srv.URL, "http://")
	for _, target := range []string{"ABC.execute-api.us-east-1.amazonaws.com:443", other} {
		c, br, code := connect(t, proxyAddr, target, "")
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", target, code)
		}
		io.WriteString(c, "hello")
		b := make([]byte, 5)
		if _, err := io.ReadFull(br, b); err != nil || string(b) != "HELLO" {
			t.Fatalf("%s: tunnel gave %q, %v", target, b, err)
		}
	}
}

func TestRefusesWhatIsNotALocalCONNECT(t *testing.T) {
	t.Parallel()
	p := &Proxy{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	if _, _, code := connect(t, strings.TrimPrefix(srv.URL, "http://"), echoServer(t), "X-Forwarded-For: 203.0.113.9\r\n"); code != http.StatusForbidden {
		t.Errorf("CONNECT through another proxy: %d, want 403", code)
	}
	if _, _, code := connect(t, strings.TrimPrefix(srv.URL, "http://"), "127.0.0.1:1", ""); code != http.StatusBadGateway {
		t.Errorf("CONNECT to a closed port: %d, want 502", code)
	}
}

func TestCloseEndsTunnels(t *testing.T) {
	t.Parallel()
	// A target that never answers: the tunnel stays open until Close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := &Proxy{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	c, br, code := connect(t, strings.TrimPrefix(srv.URL, "http://"), ln.Addr().String(), "")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the tunnel")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the client's side of the tunnel is still open")
	}
}
