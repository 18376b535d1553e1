// PROTOTYPE (branch h2, reverted in the next commit): net/http's bundled
// HTTP/2 server reads an unencrypted connection straight from the socket,
// a frame header (9 bytes) and then its payload in separate reads: two
// read system calls per frame, four per management POST (HEADERS, DATA).
// bufferH2CReads puts a buffer under it.

package httpserve

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// nextProtoUnencryptedHTTP2 is the TLSNextProto key under which net/http
// keeps its HTTP/2 server of unencrypted connections.
const nextProtoUnencryptedHTTP2 = "unencrypted_http2"

// h2cReadBuffer is the read buffer of an unencrypted HTTP/2 connection.
const h2cReadBuffer = 32 << 10

// bufferH2CReads makes srv's HTTP/2 server read unencrypted connections
// through a buffer.
func bufferH2CReads(srv *http.Server) {
	srv.Serve(noListener{}) // configures HTTP/2, returns at the first Accept
	fn := srv.TLSNextProto[nextProtoUnencryptedHTTP2]
	if fn == nil {
		return
	}
	srv.TLSNextProto[nextProtoUnencryptedHTTP2] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		if u, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn }); ok {
			nc := u.UnencryptedNetConn()
			c = tls.Client(plainInTLS{conn: &readBuffered{Conn: nc, r: bufio.NewReaderSize(nc, h2cReadBuffer)}}, nil)
		}
		fn(hs, c, h)
	}
}

type plainInTLS struct {
	net.Conn
	conn net.Conn
}

func (c plainInTLS) UnencryptedNetConn() net.Conn { return c.conn }

type readBuffered struct {
	net.Conn
	r *bufio.Reader
}

func (c *readBuffered) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *readBuffered) NetConn() net.Conn          { return c.Conn }

type noListener struct{}

func (noListener) Accept() (net.Conn, error) { return nil, errors.New("no listener") }
func (noListener) Close() error              { return nil }
func (noListener) Addr() net.Addr            { return &net.TCPAddr{} }
