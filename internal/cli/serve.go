package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
)

const defaultAddr = "127.0.0.1:8080"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "the API's config file (required; see docs/config.md)")
	addr := fs.String("addr", "", "address to listen on (default: the config's listen, else "+defaultAddr+")")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "switchboard serve: --config is required")
		fs.Usage()
		return errUsage
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	file, opts, err := config.Load(*configPath, nil)
	if err != nil {
		return err
	}
	opts.Logger = log
	listen := *addr
	if listen == "" {
		listen = file.Listen
	}
	if listen == "" {
		listen = defaultAddr
	}
	gw, err := gateway.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		gw.Shutdown(context.Background())
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveGateway(ctx, ln, gw, log, len(opts.Credentials) > 0, stdout)
}

// serveGateway serves gw on ln until ctx ends, then shuts down: every
// connection is closed with 1001 and its $disconnect runs before return.
func serveGateway(ctx context.Context, ln net.Listener, gw *gateway.Server, log *slog.Logger, signed bool, stdout io.Writer) error {
	addr := ln.Addr().String()
	stage := gw.Stage()
	fmt.Fprintf(stdout, "switchboard: stage %q is listening\n  WebSocket:       ws://%s/%s\n  @connections:    http://%s/%s/@connections/{connectionId}\n", stage, addr, stage, addr, stage)
	if host, _, _ := net.SplitHostPort(addr); !signed && !isLoopback(host) {
		log.Warn("no management credentials configured: the @connections API answers only loopback clients", "listen", addr)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: closing connections and running $disconnect")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := gw.Shutdown(sctx); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
