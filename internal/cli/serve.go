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
	"github.com/switchboard-ws/switchboard/gateway/inspector"
	"github.com/switchboard-ws/switchboard/internal/connectproxy"
	"github.com/switchboard-ws/switchboard/internal/httpserve"
	"github.com/switchboard-ws/switchboard/queue"
)

const defaultAddr = "127.0.0.1:8080"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "the API's config file (see docs/config.md); or --template")
	templatePath := fs.String("template", "", "an AWS SAM or CloudFormation template (YAML or JSON, cdk synth's included) whose WebSocket API to run (docs/templates.md); or --config")
	overrides := fs.String("parameter-overrides", "", "with --template: parameter values, as sam takes them: 'Key=Value Key2=Value2'")
	stackName := fs.String("stack-name", "", "with --template: the stack's name (AWS::StackName, generated resource names); default: the template's directory name")
	stage := fs.String("stage", "", "with --template: the StageName to serve when the API has several")
	addr := fs.String("addr", "", "address to listen on (default: the config's listen, else "+defaultAddr+")")
	ddbEndpoint := fs.String("dynamodb-endpoint", "", "the DynamoDB endpoint the functions use (AWS_ENDPOINT_URL_DYNAMODB), e.g. DynamoDB Local at http://127.0.0.1:8000; with --template the template's tables are created there")
	watch := fs.Bool("watch", true, "restart a function's instances when its code changes (a warm one finishes its invocation first)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	inspectFlag := fs.String("inspector", "auto", "the inspector page at "+inspector.Path+" (loopback clients only): on, off, or auto (on unless the management API has credentials; docs/inspector.md)")
	accessLogFlag := addAccessLogFlag(fs)
	tlsf := addTLSFlags(fs)
	limf := addLimitFlags(fs)
	clf := addClusterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := limf.check(); err != nil {
		return err
	}
	if *inspectFlag != "auto" && *inspectFlag != "on" && *inspectFlag != "off" {
		return fmt.Errorf("--inspector %q: want on, off or auto", *inspectFlag)
	}
	if (*configPath == "") == (*templatePath == "") {
		fmt.Fprintln(stderr, "switchboard serve: give exactly one of --config and --template")
		fs.Usage()
		return errUsage
	}
	if *templatePath == "" && (*overrides != "" || *stackName != "" || *stage != "") {
		return errors.New("--parameter-overrides, --stack-name and --stage go with --template")
	}
	if err := checkEndpointFlag("--dynamodb-endpoint", *ddbEndpoint); err != nil {
		return err
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
	// Certificates are read (or the local CA made) before anything listens.
	plan, err := tlsf.prepare()
	if err != nil {
		return err
	}

	// The API: a config file is read (and built) before listening; a
	// template after, since its queue URLs name the port. Decoding starts
	// nothing; Build makes the functions and starts the queues.
	var (
		file *config.File
		rt   *config.Runtime
		opts gateway.Options
		ln   net.Listener
		tpl  *config.Template
	)
	// Lambda integrations run processes, queues goroutines: stop them
	// however serve ends.
	defer func() {
		if rt != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rt.Close(ctx)
		}
	}()
	build := func(path string) error {
		var err error
		if rt, err = file.Build(ctx, config.BuildEnv{Logger: log, Watch: *watch}); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		opts = rt.GatewayOptions()
		return nil
	}
	listenAddr := *addr
	if *configPath != "" {
		if file, err = config.Load(*configPath); err != nil {
			return err
		}
		if err := build(*configPath); err != nil {
			return err
		}
		if listenAddr == "" {
			listenAddr = file.Listen
		}
	}
	if listenAddr == "" {
		listenAddr = defaultAddr
	}
	if ln, err = net.Listen("tcp", listenAddr); err != nil {
		return fmt.Errorf("listening on %s: %w", listenAddr, err)
	}
	defer ln.Close() // nothing is served before the end of the setup
	if *templatePath != "" {
		tpl, err = loadTemplate(*templatePath, *overrides, *stackName, *stage, "http://"+ln.Addr().String(), *ddbEndpoint, stdout)
		if err != nil {
			return err
		}
		file = tpl.File
		if err := build(*templatePath); err != nil {
			return err
		}
	}
	opts.Logger, opts.AccessLog = log, access
	limf.apply(&opts.Limits)
	// A cluster node (docs/cluster.md) joins before the gateway is built
	// (its ids carry the node's prefix) and leaves after it shut down.
	ccfg, err := clf.config(file, opts.APIID, opts.Stage, opts.Limits.MaxMessageBytes, log)
	if err != nil {
		return err
	}
	node, err := joinCluster(ctx, ccfg)
	if err != nil {
		return err
	}
	defer leaveCluster(node, log)
	if node != nil {
		opts.Cluster = node
	}
	gw, err := gateway.New(opts)
	if err != nil {
		return err
	}
	if node != nil {
		if err := node.Serve(gw); err != nil {
			gw.Shutdown(context.Background())
			return err
		}
	}
	if qs := rt.Queues(); len(qs) > 0 {
		gw.AddMetrics(func(w io.Writer) { queue.WriteMetrics(w, qs...) })
	}
	api := rt.QueueAPI(log)
	services, err := newAWSHosts(gw.Region(), *ddbEndpoint, api)
	if err != nil {
		gw.Shutdown(context.Background())
		return err
	}
	var st *serverTLS
	if plan != nil {
		if st, err = plan.finish(certHosts(listenAddr, append([]string{opts.DomainName, gw.ExecuteAPIHost()}, services.names()...)...), log, stdout); err != nil {
			gw.Shutdown(context.Background())
			return err
		}
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); opts.DomainName == "" && !isLoopback(host) {
		// requestContext.domainName is then the local address each client
		// reached, which handlers on other hosts may not be able to call.
		log.Warn("listening on a non-loopback address without domainName: handlers get the local address each client reached as requestContext.domainName; set domainName to the address they should call back", "listen", ln.Addr().String())
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if tpl != nil {
		// The template's tables exist, and its stream event sources run,
		// before the first client connects; they stop before the
		// functions they invoke.
		sources, err := startTemplateSources(ctx, tpl, rt, *ddbEndpoint, gw.Region(), log)
		if err != nil {
			gw.Shutdown(context.Background())
			return err
		}
		defer sources.close()
	}
	env := functionEnv{gw: gw, addr: ln.Addr().String(), tls: st, dynamoDB: *ddbEndpoint, sqs: api != nil, credentials: opts.Credentials, services: services.names()}
	rt.SetEnviron(env.build())
	if api != nil {
		for name := range file.Queues {
			fmt.Fprintf(stdout, "  queue %s:  %s (SQS API at http://%s%s)\n", name, queue.QueueURL("http://"+ln.Addr().String(), name), ln.Addr(), queue.APIPath)
		}
	}
	so := serveOptions{queues: api, services: services, drain: rt.Flush, signed: len(opts.Credentials) > 0, listen: listenOptions(opts.Limits, st, log)}
	so.inspector = *inspectFlag == "on" || (*inspectFlag == "auto" && !so.signed)
	if st == nil {
		log.Warn("TLS is off (--no-tls): functions that call https://{domainName}/{stage}, AWS's host name of the API or of a service cannot reach this gateway")
	}
	if st != nil {
		// Code that builds AWS's own host name for the API, or calls a
		// service by AWS's name, goes through this proxy to the gateway's
		// TLS port (functionEnv).
		redirect := map[string]string{gw.ExecuteAPIHost() + ":443": ln.Addr().String()}
		for _, h := range services.names() {
			redirect[h+":443"] = ln.Addr().String()
		}
		so.proxy = &connectproxy.Proxy{Redirect: redirect, Logger: log}
		defer so.proxy.Close()
	}
	return serveGateway(ctx, ln, gw, so, log, stdout)
}

// serveOptions is what serveGateway serves beside the gateway.
type serveOptions struct {
	queues    http.Handler                // the SQS API of the config's queues, at queue.APIPath
	services  awsHosts                    // AWS's host names of the local services
	drain     func(context.Context) error // delivers what the queues hold, at shutdown
	proxy     *connectproxy.Proxy         // CONNECT requests of the functions
	signed    bool                        // the management API has credentials
	inspector bool                        // serve the inspector page
	listen    httpserve.Options           // timeouts, limits and TLS of the port
}

// listenOptions are the HTTP server's options from the gateway's limits.
func listenOptions(l gateway.Limits, st *serverTLS, log *slog.Logger) httpserve.Options {
	o := httpserve.Options{ReadTimeout: l.HTTPReadTimeout, WriteTimeout: l.HTTPWriteTimeout, IdleTimeout: l.HTTPIdleTimeout,
		MaxConnections: l.MaxConnections, MaxHeaderBytes: maxHeaderBytes, Logger: log}
	if st != nil {
		o.TLS = st.config
	}
	return o
}

// serveGateway serves gw (with its metrics, and queues' SQS API at
// queue.APIPath when not nil) on ln until ctx ends, then shuts down: every
// connection is closed with 1001 and its $disconnect runs before return.
func serveGateway(ctx context.Context, ln net.Listener, gw *gateway.Server, so serveOptions, log *slog.Logger, stdout io.Writer) error {
	addr := ln.Addr().String()
	stage := gw.Stage()
	fmt.Fprintf(stdout, "switchboard: stage %q is listening\n  WebSocket:       ws://%s/%s\n", stage, addr, stage)
	if so.listen.TLS != nil {
		fmt.Fprintf(stdout, "                   wss://%s/%s (TLS on the same port)\n", addr, stage)
	}
	fmt.Fprintf(stdout, "  @connections:    http://%s/%s/@connections/{connectionId}\n  Metrics:         http://%s%s\n", addr, stage, addr, gateway.MetricsPath)
	switch {
	case so.inspector:
		fmt.Fprintf(stdout, "  Inspector:       %s (from this machine)\n", inspectorURL(addr))
	case so.signed:
		fmt.Fprintf(stdout, "  Inspector:       off (the management API has credentials; --inspector on serves it to this machine's clients)\n")
	}
	if host, _, _ := net.SplitHostPort(addr); !so.signed && !isLoopback(host) {
		log.Warn("no management credentials configured: the @connections API answers only loopback clients", "listen", addr)
	}
	var h http.Handler = gw.WithMetrics()
	if so.inspector {
		h = inspector.Mount(gw, h)
	}
	if so.queues != nil {
		mux := http.NewServeMux()
		mux.Handle(queue.APIPath, so.queues)
		mux.Handle(queue.APIPath+"/", so.queues)
		mux.Handle("/", h)
		h = mux
	}
	h = so.services.handler(h)
	if so.proxy != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodConnect {
				// The proxy hijacks the connection, which clears the
				// HTTP server's deadlines: a tunnel is not one response.
				so.proxy.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := httpserve.New(ln, h, so.listen)
	if l := srv.Listener(); l != nil {
		log.Debug("connections at most", "maxConnections", l.Max())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: closing connections and running $disconnect")
	// In order, each with its own budget: the gateway closes every
	// connection and runs $disconnect while the port still answers (new
	// upgrades are refused; the functions' posts, their SQS sends and the
	// CONNECT proxy still work); then the queues deliver what $disconnect
	// sent; then the HTTP server stops, waiting for requests in flight.
	gctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := gw.Shutdown(gctx)
	if so.drain != nil {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if derr := so.drain(dctx); derr != nil {
			log.Warn("shutdown: the queues did not drain", "err", derr)
		}
		cancel()
	}
	hctx, hcancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer hcancel()
	if err := srv.Shutdown(hctx); err != nil {
		srv.Close()
	}
	if err != nil && !errors.Is(err, gateway.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

const (
	// maxHeaderBytes bounds a request's header (net/http's default is 1 MB);
	// a WebSocket handshake or a signed management call needs far less.
	maxHeaderBytes = 16 << 10
	// shutdownTimeout is how long the HTTP server, and separately the
	// gateway, may take to shut down.
	shutdownTimeout = 15 * time.Second
)

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
