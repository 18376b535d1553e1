// Package httpserve builds the HTTP servers of Switchboard's listeners
// (switchboard serve and dev, the Lambda Runtime API of each function
// instance), hardened for clients that are not trusted:
//
//   - timeouts on every phase of a connection: the request header, the
//     whole request (a body that trickles is cut), the response, and the
//     wait for the next request on a keep-alive connection. A handler that
//     takes a connection over (a WebSocket upgrade, a CONNECT tunnel) gets
//     it without deadlines: net/http clears them on Hijack, and the new
//     owner sets its own.
//   - a maximum number of open connections (Listener), counted from accept
//     to close whatever they carry (plain or TLS, HTTP or WebSocket), kept
//     below the process's file-descriptor limit: at the maximum, the
//     connection idle for longest (a keep-alive connection between
//     requests, or one that has not sent a request yet) is closed to make
//     room, as nginx does with its reusable connections; when none is idle
//     the new connection gets 503 and is closed.
//
// RaiseFileLimit raises the soft descriptor limit to the hard one, as the
// commands do at start.
package httpserve

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-ws/switchboard/internal/tlsmux"
)

// Defaults of Options.
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's header.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request, its body
	// included, from its first byte.
	DefaultReadTimeout = 60 * time.Second
	// DefaultWriteTimeout bounds a response, from the end of its request's
	// header: above the 20 s of an SQS long poll.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxHeaderBytes bounds a request's header (net/http's default
	// is 1 MB); a WebSocket handshake or a signed call needs far less.
	DefaultMaxHeaderBytes = 16 << 10
)

// Options configure a Server. For each timeout and MaxConnections, zero
// means the default and a negative value means none (without an idle
// timeout, net/http waits for the next request as long as ReadTimeout).
type Options struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConnections bounds the open connections; the default is
	// DefaultMaxConnections() (below the file-descriptor limit).
	MaxConnections int
	// TLS, when set, makes the port answer TLS beside plain HTTP (package
	// tlsmux).
	TLS *tls.Config
	// Logger; nil means slog.Default(). net/http's own complaints (failed
	// TLS handshakes among them) are the client's business: debug level.
	Logger *slog.Logger
}

// Server is an http.Server with its listener; Serve serves it, and
// Shutdown and Close (http.Server's) stop it and close the listener.
type Server struct {
	*http.Server
	ln  net.Listener // what Serve serves: the Listener, or tlsmux over it
	lim *Listener    // nil without a connection limit
}

// New returns a Server of h on ln with o's timeouts and limits; it takes
// ln over (Close or Shutdown closes it).
func New(ln net.Listener, h http.Handler, o Options) *Server {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0 // net/http: none
		}
		return v
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: pick(o.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       pick(o.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      pick(o.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       pick(o.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if srv.MaxHeaderBytes <= 0 {
		srv.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	s := &Server{Server: srv, ln: ln}
	maxConns := o.MaxConnections
	if maxConns == 0 {
		maxConns = DefaultMaxConnections()
	}
	if maxConns > 0 {
		s.lim = NewListener(ln, maxConns, log)
		s.ln = s.lim
		srv.ConnState = s.lim.ConnState
	}
	if o.TLS != nil {
		s.ln = tlsmux.New(s.ln, tlsmux.Options{TLS: o.TLS})
	}
	return s
}

// Serve serves until Shutdown or Close, then returns nil.
func (s *Server) Serve() error {
	err := s.Server.Serve(s.ln)
	if err == http.ErrServerClosed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("serving on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Listener is the connection-limiting listener, nil without a limit.
func (s *Server) Listener() *Listener { return s.lim }
