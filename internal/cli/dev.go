package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-ws/switchboard/auth"
	"github.com/switchboard-ws/switchboard/devstack"
)

const defaultDataDir = "./switchboard-data"

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on")
	data := fs.String("data", defaultDataDir, "directory of the embedded store and the dev secret")
	ttl := fs.Duration("connection-ttl", 10*time.Minute, "a connection without heartbeat expires after this")
	sweep := fs.Duration("sweep-interval", 5*time.Second, "how often expired connections are cleaned up")
	jwksURL := fs.String("jwks-url", "", "also accept RS256/ES256 tokens signed by keys from this JWKS URL (e.g. a Cognito user pool)")
	issuer := fs.String("issuer", "", "with --jwks-url: the required iss claim")
	audience := fs.String("audience", "", "with --jwks-url: the required aud (or client_id) claim")
	tokenUse := fs.String("token-use", "", "with --jwks-url: the required token_use claim (id or access)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	stack, err := devstack.New(devstack.Options{
		DataDir: *data, ConnectionTTL: *ttl, SweepInterval: *sweep, Logger: log,
		Auth: auth.Config{JWKSURL: *jwksURL, Issuer: *issuer, Audience: *audience, TokenUse: *tokenUse},
	})
	if err != nil {
		return err
	}
	if err := stack.Serve(*addr); err != nil {
		stack.Close(context.Background())
		return err
	}
	fmt.Fprintf(stdout, `switchboard dev is running
  WebSocket:     %s?token=TOKEN
  Management:    http://%s/%s/@connections/{connectionId}
  Data:          %s
Get a token:     switchboard token --data %s --user alice --name Alice
`, stack.URL(), stack.Addr(), devstack.Stage, *data, *data)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: closing connections and running $disconnect")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return stack.Close(sctx)
}
