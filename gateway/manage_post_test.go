package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// A post's body reaches the connection byte for byte whether its length is
// declared (read straight into the frame) or not (chunked), and a body
// shorter than declared is a 400 that sends nothing.
func TestManagementPostBodies(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	url := g.http.URL + "/dev/@connections/" + id

	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 100 << 10} {
		body := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // no length known: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, url, r)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d bytes (chunked %v): status %d", n, chunked, resp.StatusCode)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%d bytes (chunked %v): read: %v", n, chunked, err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("%d bytes (chunked %v): got %d bytes, not the body", n, chunked, len(got))
			}
		}
	}

	// Declared 10 bytes, sent 4, then the client stops sending.
	nc, err := net.Dial("tcp", strings.TrimPrefix(g.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "POST /dev/@connections/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\nabcd", id, strings.TrimPrefix(g.http.URL, "http://"))
	nc.(*net.TCPConn).CloseWrite()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, _ := io.ReadAll(nc)
	if !strings.HasPrefix(string(reply), "HTTP/1.1 400 ") || !strings.Contains(string(reply), "BadRequestException") {
		t.Fatalf("short body: got %q, want a 400 BadRequestException", reply)
	}
	// Nothing was sent: the next message is the next post.
	resp, err := http.Post(url, "application/octet-stream", strings.NewReader("after"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "after" {
		t.Fatalf("after the short body: %q, %v; want \"after\"", got, err)
	}
}
