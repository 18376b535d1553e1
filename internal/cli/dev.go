package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/gateway/inspector"
)

const defaultDataDir = "./switchboard-data"

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on")
	data := fs.String("data", defaultDataDir, "directory of the embedded store and the dev secret")
	ttl := fs.Duration("connection-ttl", chat.DefaultConnectionTTL, "a connection without heartbeat expires after this")
	sweep := fs.Duration("sweep-interval", 5*time.Second, "how often expired connections are cleaned up")
	storeKind := fs.String("store", "sqlite", "sqlite (embedded, in --data), dynamodb or postgres")
	ddbEndpoint := fs.String("dynamodb-endpoint", "", "with --store dynamodb: the DynamoDB endpoint, e.g. DynamoDB Local at http://127.0.0.1:8000 (default: AWS, with the usual AWS configuration)")
	table := fs.String("table", "switchboard", "with --store dynamodb: the table")
	createTable := fs.Bool("create-table", false, "with --store dynamodb: create the table (with its indexes, TTL and stream) if it does not exist")
	pgURL := fs.String("postgres-url", os.Getenv(envPostgresURL), "with --store postgres: the database, postgres://user:password@host:5432/db?sslmode=… (default $"+envPostgresURL+"); the schema is migrated at start")
	fanoutThreshold := fs.Int("fanout-threshold", chat.DefaultFanoutThreshold, "broadcasts to more connections than this go through the fan-out queue in batches")
	fanoutBatch := fs.Int("fanout-batch", chat.DefaultFanoutBatchSize, "connections per fan-out batch")
	connectRate := fs.Float64("connect-rate", 0, "new connections per second (0: 500 as on AWS; -1: no limit)")
	chf := addChatLimitFlags(fs)
	jwksURL := fs.String("jwks-url", "", "also accept RS256/ES256 tokens signed by keys from this JWKS URL (e.g. a Cognito user pool)")
	issuer := fs.String("issuer", "", "with --jwks-url: the required iss claim")
	audience := fs.String("audience", "", "with --jwks-url: the required aud (or client_id) claim")
	tokenUse := fs.String("token-use", "", "with --jwks-url: the required token_use claim (id or access)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	accessLogFlag := addAccessLogFlag(fs)
	clf := addClusterFlags(fs)
	tlsf := addTLSFlags(fs)
	limf := addLimitFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := chf.check(); err != nil {
		return err
	}
	if err := limf.check(); err != nil {
		return err
	}
	if err := checkRate("--connect-rate", *connectRate); err != nil {
		return err
	}
	if *storeKind != "postgres" && flagGiven(fs, "postgres-url") {
		return fmt.Errorf("--postgres-url needs --store postgres")
	}
	if *fanoutThreshold < 1 || *fanoutBatch < 1 || *fanoutBatch > 1000 {
		return fmt.Errorf("--fanout-threshold must be at least 1, --fanout-batch between 1 and 1000")
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	access, err := accessLog(*accessLogFlag)
	if err != nil {
		return err
	}
	raiseFileLimit(log)
	// Certificates are read (or made) before anything listens.
	stls, err := tlsf.load(certHosts(*addr), log, stdout)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if stls != nil {
		tlsConfig = stls.config
	}
	st, err := openStore(ctx, *storeKind, *ddbEndpoint, *table, *createTable, *pgURL)
	if err != nil {
		return err
	}
	limits := gateway.Limits{ConnectRate: *connectRate}
	limf.apply(&limits)
	// A cluster node (docs/cluster.md): the nodes must share the store
	// (st is nil for the embedded one, which the stack opens).
	ccfg, err := clf.config(nil, "", devstack.Stage, limits.MaxMessageBytes, log)
	if err == nil && ccfg != nil && st == nil {
		err = fmt.Errorf("--cluster and --cluster-listen need a store the nodes share (--store postgres or dynamodb), not the embedded sqlite one")
	}
	var node *cluster.Node
	if err == nil {
		node, err = joinCluster(ctx, ccfg)
	}
	if err != nil {
		if st != nil {
			st.Close()
		}
		return err
	}
	defer leaveCluster(node, log)
	var member gateway.Cluster
	if node != nil {
		member = node
	}
	stack, err := devstack.New(devstack.Options{
		Cluster: member,
		Store:   st,
		Limits:  limits, AccessLog: access,
		Chat:    chf.apply(chat.Config{FanoutThreshold: *fanoutThreshold, FanoutBatchSize: *fanoutBatch}),
		DataDir: *data, ConnectionTTL: *ttl, SweepInterval: *sweep, Logger: log, TLS: tlsConfig,
		Auth: auth.Config{JWKSURL: *jwksURL, Issuer: *issuer, Audience: *audience, TokenUse: *tokenUse},
	})
	if err != nil {
		return err
	}
	// Signals are caught before anything is served: a SIGTERM as soon as
	// the first client is served shuts down gracefully too.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if node != nil {
		// One surviving node removes a dead node's connections from the
		// shared store and announces who left (docs/cluster.md).
		node.OnNodeDead(stack.ReapNode)
		if err := node.Serve(stack.Gateway); err != nil {
			stack.Close(context.Background())
			return err
		}
		suspectStoredNodes(ctx, node, stack.Store, log)
	}
	if err := stack.Serve(*addr); err != nil {
		stack.Close(context.Background())
		return err
	}
	fmt.Fprintf(stdout, `switchboard dev is running
  Browser UI:    %s
  WebSocket:     %s?token=TOKEN%s
  Management:    http://%s/%s/@connections/{connectionId}
  Metrics:       http://%s%s
  Inspector:     %s
  Data:          %s
Get a token:     switchboard token --data %s --user alice --name Alice
`, uiURL(stack.Addr()), stack.URL(), wssNote(stack, stls != nil), stack.Addr(), devstack.Stage, stack.Addr(), gateway.MetricsPath, inspectorURL(stack.Addr()), *data, *data)

	<-ctx.Done()
	log.Info("shutting down: closing connections and running $disconnect")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return stack.Close(sctx)
}

// wssNote is the banner's mention of wss on the same port.
func wssNote(stack *devstack.Stack, withTLS bool) string {
	if !withTLS {
		return ""
	}
	return "\n                 wss://" + stack.Addr() + "/" + devstack.Stage + "?token=TOKEN (TLS on the same port)"
}

// inspectorURL is the address to open the inspector at (loopback, as
// uiURL).
func inspectorURL(addr string) string {
	return strings.TrimSuffix(uiURL(addr), "/") + inspector.Path
}

// uiURL is the address to open the browser UI at: a wildcard listen
// address is shown as 127.0.0.1 (the UI's sign-in answers only loopback
// clients).
func uiURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// envPostgresURL is the default of --postgres-url (a URL may hold a
// password, which the environment keeps out of process listings).
const envPostgresURL = "SWITCHBOARD_POSTGRES_URL"

// openStore returns the store --store names; nil means the embedded one.
func openStore(ctx context.Context, kind, endpoint, table string, create bool, pgURL string) (store.Store, error) {
	if kind != "dynamodb" && (endpoint != "" || create) {
		return nil, fmt.Errorf("--dynamodb-endpoint and --create-table need --store dynamodb")
	}
	switch kind {
	case "sqlite":
		return nil, nil
	case "postgres":
		if pgURL == "" {
			return nil, fmt.Errorf("--store postgres needs --postgres-url (or $%s)", envPostgresURL)
		}
		return postgres.Open(ctx, pgURL, postgres.Options{})
	case "dynamodb":
	default:
		return nil, fmt.Errorf("--store %q: want sqlite, dynamodb or postgres", kind)
	}
	var db *dynamodb.Client
	if endpoint != "" {
		db = dynamo.LocalClient(endpoint)
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		db = dynamodb.NewFromConfig(cfg)
	}
	if create {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		var missing *ddbtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &missing):
			if err := dynamo.CreateTable(ctx, db, table); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("--table %s: %w", table, err)
		}
	}
	return dynamo.New(db, table, dynamo.Options{}), nil
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// maxSuspects bounds the node prefixes read from the store at join.
const maxSuspects = 1024

// suspectStoredNodes hands the node prefixes of the shared store's
// connections to the dead-node detection: nodes that died before any live
// node heard them (the whole cluster restarted) are judged after deadAfter
// and their connections removed, instead of lingering in presence until
// the connection TTL. Live nodes beat and are left alone.
func suspectStoredNodes(ctx context.Context, node *cluster.Node, st any, log *slog.Logger) {
	nl, ok := st.(store.NodeLister)
	if !ok {
		return
	}
	prefixes, err := nl.NodePrefixes(ctx, maxSuspects)
	if err != nil {
		log.Warn("cluster: reading the nodes of the stored connections; those of dead nodes expire with the connection TTL", "err", err)
		return
	}
	node.Suspect(prefixes...)
}
