package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/queue"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// BuildEnv is what File.Build needs besides the File: how the functions
// it makes log and are run, and the builtin handlers.
type BuildEnv struct {
	// Logger receives the functions' output and invocation lines
	// (lambda.Options.Logger). Default: slog.Default().
	Logger *slog.Logger
	// Watch restarts a function's instances when its code changes
	// (lambda.Options.Watch).
	Watch bool
	// Builtins resolves integrations of type builtin; nil: none are
	// available, and a builtin integration is an error.
	Builtins Builtins
}

// Runtime is what File.Build made from a File: the functions of its
// lambda integrations (no instance runs before an invocation), its
// queues (whose workers run) and their SQS API, and the gateway's options
// whose routes and authorizer use them. It owns them until Close. Its
// methods are safe for concurrent use.
type Runtime struct {
	opts     gateway.Options
	queues   map[string]*queue.Local
	verifier *sigv4.Verifier // the SQS API's, when credentials are configured
	region   string          // the File's, for functions made later (Invoker)

	mu     sync.Mutex // guards fns and closed
	fns    functions
	closed bool
}

// errClosed is Invoker's error once the Runtime is closed.
var errClosed = errors.New("config: the runtime is closed")

// Build makes what f describes: a lambda.Function for each distinct
// lambda integration (one per set of equal integrations, as on AWS; with
// its pool and, with env.Watch, its code watcher; for Node.js, node is
// found and the runtime client written), an HTTP client for each http
// one, the builtin handlers (env.Builtins), and a started queue.Local for
// each queue. f is validated again first, and a builtin name that
// env.Builtins does not know is an error naming its field. On an error,
// what was made is stopped before Build returns (within ctx). Build
// returns ctx's error when ctx has ended before it starts; the Runtime
// outlives ctx, until Close.
func (f *File) Build(ctx context.Context, env BuildEnv) (*Runtime, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	rt := &Runtime{region: f.Region, fns: functions{build: true, logger: log, watch: env.Watch, environ: &environ{}}}
	opts, err := f.walk(env.Builtins, rt)
	if err != nil {
		rt.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	rt.opts = opts
	return rt, nil
}

// GatewayOptions are the gateway's options (gateway.New): the File's
// stage, routes (their integrations the Runtime's functions), authorizer,
// limits and management credentials. The caller may set Logger and the
// like on its copy.
func (rt *Runtime) GatewayOptions() gateway.Options { return rt.opts }

// Invoker returns the function of a lambda (or http) integration: the one
// a route or queue with an equal integration uses, or a new one that the
// Runtime owns from then on (the consumer of a template's stream event
// source, which no route uses). It starts no instance until invoked.
func (rt *Runtime) Invoker(in Integration) (integration.Invoker, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, errClosed
	}
	return in.invoker(rt.region, &rt.fns)
}

// Queue returns a queue by name (nil when the File has none of that
// name).
func (rt *Runtime) Queue(name string) *queue.Local { return rt.queues[name] }

// Queues returns the config's queues, by name.
func (rt *Runtime) Queues() []*queue.Local {
	names := slices.Sorted(maps.Keys(rt.queues))
	out := make([]*queue.Local, len(names))
	for i, n := range names {
		out[i] = rt.queues[n]
	}
	return out
}

// QueueAPI is the SQS API of the queues, to be served at queue.APIPath
// (and below it); nil when there are none. With management credentials,
// requests must be signed with one of them.
func (rt *Runtime) QueueAPI(log *slog.Logger) http.Handler {
	if len(rt.queues) == 0 {
		return nil
	}
	return &queue.API{Queues: rt.queues, Verifier: rt.verifier, Logger: log}
}

// SetEnviron sets variables that every function gets at its next
// instance start, after Lambda's own and before the integration's
// environment (which may override them): the local AWS endpoints, the CA
// bundle that makes the SDKs trust the gateway's certificate,
// credentials. They are known only once the gateway listens, after Build,
// and before any invocation.
func (rt *Runtime) SetEnviron(env map[string]string) { rt.fns.environ.set(env) }

// Flush waits until the queues hold nothing: every message sent was
// delivered (or dead-lettered), or ctx ended.
func (rt *Runtime) Flush(ctx context.Context) error {
	var errs []error
	for _, q := range rt.queues {
		errs = append(errs, q.Flush(ctx))
	}
	return errors.Join(errs...)
}

// Close stops everything the Runtime started: the queues' workers (a
// delivery in flight ends first), then the functions' instances and
// watchers. It waits for them as long as ctx lasts. Later calls return
// nil.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	list := rt.fns.list
	rt.fns = functions{environ: rt.fns.environ}
	rt.mu.Unlock()
	var errs []error
	for _, q := range rt.queues {
		errs = append(errs, q.Close(ctx))
	}
	for _, fn := range list {
		errs = append(errs, fn.Close(ctx))
	}
	return errors.Join(errs...)
}

// functions are the Lambda functions of a File's integrations, one per
// distinct lambda.Options (integrations alike in every field are one
// function) and one set of options per name. When build is false they are
// only checked (lambda.Check), and nothing is made.
type functions struct {
	build   bool
	logger  *slog.Logger
	watch   bool
	environ *environ // what every function gets (Runtime.SetEnviron)

	byKey map[string]*lambda.Function // nil values when checking
	names map[string]bool
	list  []*lambda.Function
}

// function returns the function of o (whose Logger, Watch and Environ
// are functions'), making it when building; nil when checking.
func (fs *functions) function(o lambda.Options) (integration.Invoker, error) {
	key := fmt.Sprintf("%#v", o) // maps print sorted
	if fn, ok := fs.byKey[key]; ok {
		if fn == nil {
			return nil, nil
		}
		return fn, nil
	}
	if fs.names[o.FunctionName] {
		return nil, fmt.Errorf("functionName: %q names two different functions", o.FunctionName)
	}
	var fn *lambda.Function
	if fs.build {
		o.Logger, o.Watch, o.Environ = fs.logger, fs.watch, fs.environ.get
		var err error
		if fn, err = lambda.New(o); err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		fs.list = append(fs.list, fn)
	} else if err := lambda.Check(o); err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	if fs.byKey == nil {
		fs.byKey, fs.names = map[string]*lambda.Function{}, map[string]bool{}
	}
	fs.byKey[key], fs.names[o.FunctionName] = fn, true
	if fn == nil {
		return nil, nil
	}
	return fn, nil
}
