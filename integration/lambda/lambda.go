// Package lambda runs Lambda functions on the local machine and serves them
// the Lambda Runtime API, so that the gateway can invoke them as it would
// invoke the deployed functions: a custom-runtime executable (the deployable
// bootstrap of a provided.al2023 function, such as a Go program built with
// github.com/aws/aws-lambda-go/lambda), or a Node.js function (nodejs18.x,
// nodejs20.x, nodejs22.x) run by the installed node through a runtime client
// of this package that behaves as Lambda's (see docs/nodejs.md).
//
// Each instance is a child process, in its own process group, whose
// AWS_LAMBDA_RUNTIME_API points at an HTTP server of its own on 127.0.0.1.
// Instances start on demand, up to Options.Concurrency; warm instances are
// reused and stopped after Options.IdleTTL without work. As on Lambda, an
// invocation that outlives Options.Timeout has its instance killed, and a
// runtime that exits is replaced by a new one on the next invocation. With
// Options.Watch, a change to the code retires the instances that run the
// old one.
//
// Every invocation is logged at Info on Options.Logger (request id,
// duration, init duration on a cold start, outcome, and the attributes the
// caller attached with WithLogAttrs), and so is every line the function
// prints.
//
// Not emulated: the Client-Context and Cognito-Identity headers (API
// Gateway invocations have neither), external extensions and the
// Telemetry API (the Extensions API is served only far enough for
// aws-lambda-go's lambda.WithEnableSIGTERM), response streaming to the
// caller (a streamed response is buffered; an error sent in its trailers
// is reported), memory limits, and the freezing of idle instances.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/internal/logctx"
)

// Defaults of Options.
const (
	DefaultMemoryMB    = 128
	DefaultTimeout     = 3 * time.Second
	DefaultConcurrency = 4
	DefaultIdleTTL     = 5 * time.Minute
	DefaultRegion      = "us-east-1"
)

const (
	// maxPayloadBytes is Lambda's limit of a synchronous invocation's
	// request and response payloads (the same 6 MiB as integration.HTTP).
	maxPayloadBytes = 6 << 20
	// initTimeout bounds a new instance's init phase: the time from the
	// process start to its first call of /runtime/invocation/next. It is
	// Lambda's limit for on-demand functions.
	initTimeout = 10 * time.Second
	// shutdownGrace is how long a runtime that registered an extension
	// (aws-lambda-go does so for lambda.WithEnableSIGTERM) gets between
	// SIGTERM and SIGKILL when its instance is stopped, as on Lambda.
	shutdownGrace = 500 * time.Millisecond
	// accountID fills the invoked function ARN; the gateway's default.
	accountID = "000000000000"
)

// ErrClosed is returned by Invoke once Close was called.
var ErrClosed = errors.New("lambda: function closed")

// Options describe a function and how it is run.
type Options struct {
	// Runtime is the Lambda runtime identifier. "" or a provided runtime
	// (provided.al2023, provided.al2, provided): Path is the executable.
	// nodejs18.x, nodejs20.x, nodejs22.x: Handler ("file.export", e.g.
	// index.handler or src/app.handler) is loaded from CodeDir and run by
	// the node on PATH (18 or later) through the Runtime API.
	Runtime string
	// CodeDir is the function's code directory: its LAMBDA_TASK_ROOT and
	// working directory. Required for Node.js runtimes. Provided runtimes:
	// default the directory of Path; when Path is empty, Path is
	// CodeDir/bootstrap, as on Lambda.
	CodeDir string
	// Path of the executable, e.g. ./bootstrap (provided runtimes only).
	Path string
	// Args are the executable's arguments; for Node.js runtimes, options of
	// node, put before the runtime client (e.g. --enable-source-maps).
	Args []string
	// Env is the function's environment. It is added to a minimal base
	// (PATH and HOME of this process) and the variables Lambda sets, which
	// it may override; AWS_LAMBDA_RUNTIME_API is always this package's.
	Env map[string]string
	// Handler sets _HANDLER (when empty, _HANDLER is left unset unless Env
	// sets it).
	Handler string
	// Environ, when set, is called at each instance start; its variables
	// (the local AWS endpoints, the CA bundle, credentials) are added after
	// Lambda's own and before Env, which may override them.
	Environ func() map[string]string
	// FunctionName sets AWS_LAMBDA_FUNCTION_NAME, the log group and the
	// invoked function ARN. Default: the base name of Path.
	FunctionName string
	// MemoryMB sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE (no limit is enforced).
	// Default 128.
	MemoryMB int
	// Timeout of one invocation, counted from the moment the runtime
	// receives it, as on Lambda (a cold start's init phase is not counted;
	// it has a limit of its own of 10 s). Default 3 s. The gateway also has
	// its own integration timeout.
	Timeout time.Duration
	// Concurrency is the maximum number of instances. Default 4.
	Concurrency int
	// IdleTTL stops an instance that has had no invocation for this long;
	// it is kept warm meanwhile. Default 5 min; negative: never.
	IdleTTL time.Duration
	// Logger receives the instances' stdout and stderr lines, with the
	// function name and instance id, and one line per invocation. Lines of
	// a Node.js function's console are records at their level (DEBUG and
	// TRACE at Debug) with the request id. Default slog.Default().
	Logger *slog.Logger
	// Watch restarts the function when its code changes: CodeDir (less
	// node_modules and dot-directories) for Node.js runtimes, the
	// executable for provided runtimes, polled every 500 ms. Idle instances
	// stop at once; busy ones finish their invocation and are not reused;
	// the next invocation cold-starts the new code.
	Watch bool
	// NodeSDKDir is where the AWS SDK for JavaScript v3 packages a Node.js
	// function imports without bundling them are installed on first use
	// (Lambda's runtime includes them). Default NodeSDKDir().
	NodeSDKDir string
}

// Function is a local Lambda function: a pool of instances of one
// executable. It is safe for concurrent use.
type Function struct {
	opts     Options
	path     string   // absolute: the executable, or node
	args     []string // its arguments
	node     *nodeSetup
	taskRoot string
	region   string
	arn      string
	log      *slog.Logger

	sem    chan struct{}   // one token per invocation holding an instance
	done   chan struct{}   // closed by Close
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	gen    uint64      // the code's generation: Watch adds one per change
	idle   []*instance // most recently used last
	all    map[*instance]struct{}
	wg     sync.WaitGroup // instance goroutines, background drains, installs, the watcher
}

var _ integration.Invoker = (*Function)(nil)

// Check reports what New would refuse in opts without starting, running
// or writing anything: negative numbers, an unsupported runtime, a
// provided runtime's executable that is missing or not executable, a
// Node.js function without its code directory or with a malformed
// handler, a code directory that is not one. Finding node (and its
// version) is left to New.
func Check(opts Options) error {
	switch {
	case opts.MemoryMB < 0:
		return fmt.Errorf("lambda: Options.MemoryMB: %d is negative", opts.MemoryMB)
	case opts.Timeout < 0:
		return fmt.Errorf("lambda: Options.Timeout: %v is negative", opts.Timeout)
	case opts.Concurrency < 0:
		return fmt.Errorf("lambda: Options.Concurrency: %d is negative", opts.Concurrency)
	}
	switch {
	case isProvidedRuntime(opts.Runtime):
		if _, err := executablePath(opts); err != nil {
			return err
		}
	case nodeRuntimes[opts.Runtime] != 0:
		if err := checkNodeOptions(opts); err != nil {
			return err
		}
	default:
		return fmt.Errorf("lambda: Options.Runtime: %q is not supported (want provided.al2023, provided.al2, provided, nodejs18.x, nodejs20.x or nodejs22.x)", opts.Runtime)
	}
	if opts.CodeDir != "" {
		if _, err := codeDir(opts.CodeDir); err != nil {
			return err
		}
	}
	return nil
}

// executablePath is the absolute path of a provided runtime's executable
// (Path, or CodeDir/bootstrap), checked.
func executablePath(opts Options) (string, error) {
	if opts.Path == "" && opts.CodeDir != "" {
		opts.Path = filepath.Join(opts.CodeDir, "bootstrap")
	}
	if opts.Path == "" {
		return "", errors.New("lambda: Options.Path: missing")
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return "", fmt.Errorf("lambda: Options.Path: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("lambda: Options.Path: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("lambda: Options.Path: %s is not a regular file", path)
	}
	if !isExecutable(st) {
		return "", fmt.Errorf("lambda: Options.Path: %s is not executable", path)
	}
	return path, nil
}

// codeDir is the absolute path of a code directory, checked.
func codeDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("lambda: Options.CodeDir: %w", err)
	}
	if st, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("lambda: Options.CodeDir: %w", err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("lambda: Options.CodeDir: %s is not a directory", dir)
	}
	return dir, nil
}

// New validates opts (Check) and returns a Function with no instance
// running yet. For a Node.js runtime it also finds node (running node
// --version) and writes the runtime client to Switchboard's cache
// directory; with Watch, it starts the goroutine that watches the code.
func New(opts Options) (*Function, error) {
	if err := Check(opts); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &Function{}
	if isProvidedRuntime(opts.Runtime) {
		path, err := executablePath(opts)
		if err != nil {
			return nil, err
		}
		if opts.Path == "" {
			opts.Path = filepath.Join(opts.CodeDir, "bootstrap")
		}
		f.path, f.args, f.taskRoot = path, opts.Args, filepath.Dir(path)
		if opts.FunctionName == "" {
			opts.FunctionName = filepath.Base(path)
		}
	} else {
		n, err := setupNode(&opts, opts.Logger)
		if err != nil {
			return nil, err
		}
		f.node = n
		f.path, f.args = n.command(opts.Args)
		if opts.FunctionName == "" {
			opts.FunctionName = filepath.Base(filepath.Clean(opts.CodeDir))
		}
	}
	if opts.CodeDir != "" {
		dir, err := codeDir(opts.CodeDir)
		if err != nil {
			return nil, err
		}
		f.taskRoot = dir
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = DefaultMemoryMB
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.IdleTTL == 0 {
		opts.IdleTTL = DefaultIdleTTL
	}
	region := opts.Env["AWS_REGION"]
	if region == "" {
		region = opts.Env["AWS_DEFAULT_REGION"]
	}
	if region == "" {
		region = DefaultRegion
	}
	f.opts = opts
	f.region = region
	f.arn = "arn:aws:lambda:" + region + ":" + accountID + ":function:" + opts.FunctionName
	f.log = opts.Logger.With("function", opts.FunctionName)
	f.sem = make(chan struct{}, opts.Concurrency)
	f.done = make(chan struct{})
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.all = map[*instance]struct{}{}
	if opts.Watch {
		w := f.newWatcher()
		f.wg.Add(1)
		go w.run()
	}
	return f, nil
}

// WithLogAttrs returns a copy of ctx carrying attrs, which the log line of
// an invocation made with that context includes (e.g. the route and the
// connection id). It is logctx.With; packages that this one imports use
// logctx directly.
func WithLogAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	return logctx.With(ctx, attrs...)
}

// Invoke runs the function with payload, as a synchronous (RequestResponse)
// Lambda invocation, and returns its response. An error the function
// reports, a crash, a timeout and an init failure are a
// *integration.FunctionError, returned unwrapped; ctx's end returns
// ctx.Err() at once (an invocation the runtime has already received then
// runs to its end in the background, holding its instance, as on Lambda).
// The invocation is logged at Info, with the attributes of WithLogAttrs.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	var last *invocation
	out, err := f.invoke(ctx, payload, &last)
	f.logInvocation(ctx, start, last, err)
	return out, err
}

// Describe names the integration "lambda" and the function (the gateway's
// log lines and metrics).
func (f *Function) Describe() (kind, name string) { return "lambda", f.opts.FunctionName }

func (f *Function) invoke(ctx context.Context, payload []byte, last **invocation) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(payload) > maxPayloadBytes {
		return nil, fmt.Errorf("lambda %s: request payload of %d bytes is over the %d bytes limit", f.opts.FunctionName, len(payload), maxPayloadBytes)
	}
	select {
	case <-f.done:
		return nil, ErrClosed
	default:
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-f.done:
		return nil, ErrClosed
	}
	// A warm instance may turn out to be dead or stuck before it takes the
	// invocation (a runtime that exits after answering, as aws-lambda-go
	// does after a panic): the invocation then goes to another instance.
	for attempt := 0; ; attempt++ {
		in, err := f.acquire()
		if err != nil {
			<-f.sem
			return nil, err
		}
		inv := f.newInvocation(logctx.RequestID(ctx), payload)
		inv.instance = in.id
		*last = inv
		out, err, retry := f.run(ctx, in, inv)
		inv.answered = time.Now()
		if !retry {
			return out, err
		}
		if attempt > f.opts.Concurrency {
			<-f.sem
			return nil, fmt.Errorf("lambda %s: %d instances in a row failed before taking the invocation", f.opts.FunctionName, attempt+1)
		}
	}
}

// logInvocation writes the invocation's log line: request id, duration
// (the handler's, from the runtime's receipt of the invocation), init
// duration on a cold start, outcome (ok, or the error type).
func (f *Function) logInvocation(ctx context.Context, start time.Time, inv *invocation, err error) {
	if !f.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	duration := time.Since(start)
	if inv != nil {
		attrs = append(attrs, slog.String("requestId", inv.id), slog.String("instance", inv.instance))
		select {
		case <-inv.delivered:
			if inv.cold {
				attrs = append(attrs, slog.Duration("initDuration", inv.initDuration))
			}
			duration = inv.answered.Sub(inv.deliveredAt)
		default:
		}
	}
	attrs = append(attrs, slog.Duration("duration", duration))
	var fe *integration.FunctionError
	switch {
	case err == nil:
		attrs = append(attrs, slog.String("outcome", "ok"))
	case errors.As(err, &fe):
		attrs = append(attrs, slog.String("outcome", fe.Type), slog.String("error", fe.Message))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		attrs = append(attrs, slog.String("outcome", "abandoned"), slog.String("error", err.Error()))
	case errors.Is(err, ErrClosed):
		attrs = append(attrs, slog.String("outcome", "closed"))
	default:
		attrs = append(attrs, slog.String("outcome", "failed"), slog.String("error", err.Error()))
	}
	attrs = append(attrs, logctx.Attrs(ctx)...)
	f.log.LogAttrs(ctx, slog.LevelInfo, "lambda: invocation", attrs...)
}

// acquire takes the most recently used idle instance, or starts one. The
// caller holds a token of f.sem, so instances never outnumber tokens.
func (f *Function) acquire() (*instance, error) {
	f.mu.Lock()
	for len(f.idle) > 0 {
		in := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if in.idleTimer != nil {
			in.idleTimer.Stop()
			in.idleTimer = nil
		}
		if !in.isDead() {
			f.mu.Unlock()
			return in, nil
		}
		in.kill() // failed its init while idle
	}
	f.mu.Unlock()
	return f.startInstance()
}

// release returns a healthy instance to the idle pool and frees the
// caller's token.
func (f *Function) release(in *instance) {
	f.mu.Lock()
	if f.closed || in.isDead() || in.gen != f.gen {
		f.mu.Unlock()
		in.kill()
		<-f.sem
		return
	}
	f.idle = append(f.idle, in)
	if f.opts.IdleTTL > 0 {
		in.idleTimer = time.AfterFunc(f.opts.IdleTTL, func() { f.reap(in) })
	}
	f.mu.Unlock()
	<-f.sem
}

// discard kills an instance that may not serve again and frees the
// caller's token.
func (f *Function) discard(in *instance) {
	in.kill()
	<-f.sem
}

// reap stops in if it is still idle.
func (f *Function) reap(in *instance) {
	f.mu.Lock()
	found := false
	for i, x := range f.idle {
		if x == in {
			f.idle = append(f.idle[:i], f.idle[i+1:]...)
			found = true
			break
		}
	}
	if found {
		in.idleTimer = nil
	}
	f.mu.Unlock()
	if found {
		f.log.Debug("lambda: stopping idle instance", "instance", in.id, "idleTtl", f.opts.IdleTTL)
		in.shutdown()
	}
}

// forget removes an exited instance from the pool.
func (f *Function) forget(in *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.all, in)
	for i, x := range f.idle {
		if x == in {
			f.idle = append(f.idle[:i], f.idle[i+1:]...)
			if in.idleTimer != nil {
				in.idleTimer.Stop()
				in.idleTimer = nil
			}
			break
		}
	}
}

// Close stops every instance (gracefully for runtimes that registered an
// extension: SIGTERM, then SIGKILL after 500 ms) and waits for them to
// exit, or for ctx. Invocations in flight return ErrClosed.
func (f *Function) Close(ctx context.Context) error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.done)
		f.cancel()
	}
	ins := make([]*instance, 0, len(f.all))
	for in := range f.all {
		ins = append(ins, in)
	}
	for _, in := range f.idle {
		if in.idleTimer != nil {
			in.idleTimer.Stop()
			in.idleTimer = nil
		}
	}
	f.idle = nil
	f.mu.Unlock()
	for _, in := range ins {
		in.shutdown()
	}
	waited := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		for _, in := range ins {
			in.kill()
		}
		return ctx.Err()
	}
}

// invocation is one request to the function.
type invocation struct {
	id       string
	payload  []byte
	traceID  string
	received time.Time
	instance string // the id of the instance it was given to
	// delivered is closed when the runtime has received the invocation
	// from /next; deadline, deliveredAt, cold and initDuration are set
	// before.
	delivered    chan struct{}
	deadline     time.Time
	deliveredAt  time.Time
	cold         bool // the instance's first invocation
	initDuration time.Duration
	pausedBase   time.Duration // the instance's paused time at delivery
	answered     time.Time     // when Invoke had its outcome (Invoke's goroutine only)
	result       chan outcome  // buffered: the runtime's answer
}

type outcome struct {
	body []byte
	err  error // *integration.FunctionError
}

// newInvocation makes an invocation whose request id is id (the API
// Gateway event's, see logctx.WithRequestID), or a new UUID.
func (f *Function) newInvocation(id string, payload []byte) *invocation {
	if id == "" {
		id = uuid.NewString()
	}
	return &invocation{
		id:        id,
		payload:   payload,
		traceID:   newTraceID(),
		received:  time.Now(),
		delivered: make(chan struct{}),
		result:    make(chan outcome, 1),
	}
}

// run gives inv to in and waits for its outcome. It releases or discards in
// (and the caller's token) unless it returns retry, in which case in is
// discarded and the caller keeps its token to try another instance; retry
// is only returned for an invocation the runtime never received, so no
// invocation runs twice. When ctx ends after the runtime took the
// invocation, the rest of the wait moves to a background goroutine.
func (f *Function) run(ctx context.Context, in *instance, inv *invocation) (out []byte, err error, retry bool) {
	in.next <- inv // never blocks: the instance is the caller's alone
	ready, lastDeadline := in.status()
	var limit time.Duration
	if ready {
		// A warm runtime may still be finishing its previous invocation
		// (it has answered but not yet called /next): that one's deadline
		// still applies, as on Lambda, with a little grace.
		limit = max(time.Until(lastDeadline), 0) + 250*time.Millisecond
	} else {
		limit = max(initTimeout-time.Since(in.started), 0)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var accounted time.Duration // paused time (SDK installs) the init limit already leaves out
wait:
	for {
		select {
		case <-inv.delivered:
			break wait
		case <-in.exited:
			if !in.takeBack() {
				break wait // the runtime received it before exiting
			}
			if fe := in.initError(); fe != nil {
				f.discard(in)
				return nil, fe, false
			}
			if in.wasReady() {
				// The runtime exited after its previous invocation (as
				// aws-lambda-go does after a panic): a new instance takes
				// this one.
				in.kill()
				return nil, nil, true
			}
			f.log.Warn("lambda: runtime exited during init", "instance", in.id, "reason", in.exitReason())
			f.discard(in)
			return nil, &integration.FunctionError{
				Message: fmt.Sprintf("RequestId: %s Error: Runtime exited during init: %s", inv.id, in.exitReason()),
				Type:    "Runtime.ExitError",
			}, false
		case <-in.initFailed:
			if !in.takeBack() {
				break wait
			}
			f.discard(in)
			return nil, in.initError(), false
		case <-timer.C:
			if !ready {
				if ext := in.extension(&accounted); ext > 0 {
					timer.Reset(ext) // an SDK install does not count
					continue
				}
			}
			if !in.takeBack() {
				break wait
			}
			if ready {
				f.log.Warn("lambda: runtime did not ask for its next invocation before the previous one's deadline; replacing the instance", "instance", in.id)
				in.kill()
				return nil, nil, true
			}
			f.log.Warn("lambda: init timed out; killing the instance", "instance", in.id, "after", initTimeout)
			f.discard(in)
			return nil, &integration.FunctionError{
				Message: fmt.Sprintf("RequestId: %s Error: Init timed out after %.2f seconds", inv.id, initTimeout.Seconds()),
				Type:    "Sandbox.Timedout",
			}, false
		case <-ctx.Done():
			if in.takeBack() {
				// Taken back before the runtime received it: the instance
				// is as good as before.
				f.release(in)
			} else {
				f.drain(in, inv)
			}
			return nil, ctx.Err(), false
		case <-f.done:
			f.discard(in)
			return nil, ErrClosed, false
		}
	}
	<-inv.delivered // at most a moment away once the runtime has taken it
	return f.await(ctx, in, inv)
}

// await waits for the outcome of an invocation the runtime has received.
func (f *Function) await(ctx context.Context, in *instance, inv *invocation) ([]byte, error, bool) {
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	accounted := inv.pausedBase
	for {
		select {
		case o := <-inv.result:
			f.release(in)
			return o.body, o.err, false
		case <-in.exited:
			select {
			case o := <-inv.result: // answered, then exited (aws-lambda-go after a panic)
				f.discard(in)
				return o.body, o.err, false
			default:
			}
			f.log.Warn("lambda: runtime exited during an invocation", "instance", in.id, "requestId", inv.id, "reason", in.exitReason())
			f.discard(in)
			return nil, &integration.FunctionError{
				Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", inv.id, in.exitReason()),
				Type:    "Runtime.ExitError",
			}, false
		case <-timer.C:
			if ext := in.extension(&accounted); ext > 0 {
				timer.Reset(ext) // an SDK install does not count
				continue
			}
			select {
			case o := <-inv.result: // answered at the last moment
				f.release(in)
				return o.body, o.err, false
			default:
			}
			f.log.Warn("lambda: invocation timed out; killing the instance", "instance", in.id, "requestId", inv.id, "timeout", f.opts.Timeout)
			f.discard(in)
			return nil, &integration.FunctionError{
				Message: fmt.Sprintf("%s %s Task timed out after %.2f seconds", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), inv.id, f.opts.Timeout.Seconds()),
				Type:    "Sandbox.Timedout",
			}, false
		case <-ctx.Done():
			f.drain(in, inv)
			return nil, ctx.Err(), false
		case <-f.done:
			f.discard(in)
			return nil, ErrClosed, false
		}
	}
}

// drain waits in the background for an invocation whose caller gave up,
// then releases or discards the instance and the token.
func (f *Function) drain(in *instance, inv *invocation) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		f.discard(in)
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		select {
		case <-inv.delivered:
		case <-in.exited:
			f.discard(in)
			return
		case <-f.done:
			f.discard(in)
			return
		}
		f.await(context.Background(), in, inv)
	}()
}
