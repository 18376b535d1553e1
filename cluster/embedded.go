package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded runs this node's NATS server: clients on a free loopback
// port with a password made for this process (the node connects
// in-process), routes on cfg.Listen
// authenticated with RouteUser and cfg.Secret, routed to cfg.Peers.
func startEmbedded(cfg *Config, timeout time.Duration) (ns *server.Server, user, pass string, err error) {
	host, portStr, _ := net.SplitHostPort(cfg.Listen)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, "", "", fmt.Errorf("cluster: listen %q: %w", cfg.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	var b [16]byte
	rand.Read(b[:])
	user, pass = "node", hex.EncodeToString(b[:])
	opts := &server.Options{
		ServerName: "switchboard-" + hex.EncodeToString(b[:4]),
		// Clients: this node only, which connects in-process. The client
		// port must still listen (routing waits for it): on loopback, on a
		// free port, with a password made for this process.
		Host:     "127.0.0.1",
		Port:     server.RANDOM_PORT,
		Username: user,
		Password: pass,
		NoSigs:   true,
		Cluster: server.ClusterOpts{
			Name:     "switchboard-" + cfg.API,
			Host:     host,
			Port:     port,
			Username: RouteUser,
			Password: cfg.Secret,
			// A lost peer (no TCP reset) loses its routes within a few
			// intervals, so the others can judge it dead (liveness.go).
			PingInterval: cfg.RoutePingInterval,
			MaxPingsOut:  DefaultRouteMaxPingsOut,
		},
	}
	if cfg.RouteCertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.RouteCertFile, KeyFile: cfg.RouteKeyFile, CaFile: cfg.RouteCAFile, Verify: true})
		if err != nil {
			return nil, "", "", fmt.Errorf("cluster: route TLS: %w", err)
		}
		tc.RootCAs = tc.ClientCAs // the routes this node opens verify the peer with the same CA
		opts.Cluster.TLSConfig = tc
		opts.Cluster.TLSTimeout = DefaultJoinTimeout.Seconds()
	}
	for _, p := range cfg.Peers {
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats", User: url.UserPassword(RouteUser, cfg.Secret), Host: p})
	}
	ns, err = server.NewServer(opts)
	if err != nil {
		return nil, "", "", fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{cfg.Logger.With("component", "nats")}, false, false, false)
	ns.Start() // returns once listening; the server owns its goroutines, Shutdown ends them
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, "", "", fmt.Errorf("cluster: embedded NATS did not start within %v (is %s free?)", timeout, cfg.Listen)
	}
	return ns, user, pass, nil
}

// natsLogger writes the embedded server's log to slog. Route errors (a peer
// with the wrong secret, a peer unreachable) are warnings.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "Plaintext passwords") {
		return // ours are in memory only, not in a file
	}
	l.log.Warn(msg)
}
func (l natsLogger) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any) {}
func (l natsLogger) Tracef(format string, v ...any) {}
