// Package lambda runs a Lambda custom-runtime executable (the deployable
// bootstrap of a provided.al2023 function, such as a Go program built with
// github.com/aws/aws-lambda-go/lambda) on the local machine and serves it
// the Lambda Runtime API, so that the gateway can invoke it as it would
// invoke the deployed function.
//
// Each instance is a child process, in its own process group, whose
// AWS_LAMBDA_RUNTIME_API points at an HTTP server of its own on 127.0.0.1.
// Instances start on demand, up to Options.Concurrency; warm instances are
// reused and stopped after Options.IdleTTL without work. As on Lambda, an
// invocation that outlives Options.Timeout has its instance killed, and a
// runtime that exits is replaced by a new one on the next invocation.
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
	// nodejs18.x, nodejs20.x, nodejs22.x: Handler ("file.export") is run
	// from CodeDir by the installed node, through the Runtime API.
	Runtime string
	// CodeDir is the function's code directory: its LAMBDA_TASK_ROOT and
	// working directory. Default: the directory of Path.
	CodeDir string
	// Path of the executable, e.g. ./bootstrap (provided runtimes).
	Path string
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
	// function name and instance id. Default slog.Default().
	Logger *slog.Logger
}

// Function is a local Lambda function: a pool of instances of one
// executable. It is safe for concurrent use.
type Function struct {
	opts     Options
	path     string // absolute
	taskRoot string
	region   string
	arn      string
	log      *slog.Logger

	sem  chan struct{} // one token per invocation holding an instance
	done chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	idle   []*instance // most recently used last
	all    map[*instance]struct{}
	wg     sync.WaitGroup // instance goroutines and background drains
}

var _ integration.Invoker = (*Function)(nil)

// New validates opts and returns a Function with no instance running yet.
func New(opts Options) (*Function, error) {
	if opts.Path == "" {
		return nil, errors.New("lambda: Options.Path: missing")
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("lambda: Options.Path: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("lambda: Options.Path: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("lambda: Options.Path: %s is not a regular file", path)
	}
	if !isExecutable(st) {
		return nil, fmt.Errorf("lambda: Options.Path: %s is not executable", path)
	}
	switch {
	case opts.MemoryMB < 0:
		return nil, fmt.Errorf("lambda: Options.MemoryMB: %d is negative", opts.MemoryMB)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("lambda: Options.Timeout: %v is negative", opts.Timeout)
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("lambda: Options.Concurrency: %d is negative", opts.Concurrency)
	}
	if opts.FunctionName == "" {
		opts.FunctionName = filepath.Base(path)
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
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	region := opts.Env["AWS_REGION"]
	if region == "" {
		region = opts.Env["AWS_DEFAULT_REGION"]
	}
	if region == "" {
		region = DefaultRegion
	}
	return &Function{
		opts:     opts,
		path:     path,
		taskRoot: filepath.Dir(path),
		region:   region,
		arn:      "arn:aws:lambda:" + region + ":" + accountID + ":function:" + opts.FunctionName,
		log:      opts.Logger.With("function", opts.FunctionName),
		sem:      make(chan struct{}, opts.Concurrency),
		done:     make(chan struct{}),
		all:      map[*instance]struct{}{},
	}, nil
}

// Invoke runs the function with payload, as a synchronous (RequestResponse)
// Lambda invocation, and returns its response. An error the function
// reports, a crash, a timeout and an init failure are a
// *integration.FunctionError, returned unwrapped; ctx's end returns
// ctx.Err() at once (an invocation the runtime has already received then
// runs to its end in the background, holding its instance, as on Lambda).
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
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
		out, err, retry := f.run(ctx, in, f.newInvocation(payload))
		if !retry {
			return out, err
		}
		if attempt > f.opts.Concurrency {
			<-f.sem
			return nil, fmt.Errorf("lambda %s: %d instances in a row failed before taking the invocation", f.opts.FunctionName, attempt+1)
		}
	}
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
	if f.closed || in.isDead() {
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
		f.log.Debug("lambda: stopping idle instance", "instance", in.id, "idle_ttl", f.opts.IdleTTL)
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
	// delivered is closed when the runtime has received the invocation
	// from /next; deadline is set before.
	delivered chan struct{}
	deadline  time.Time
	result    chan outcome // buffered: the runtime's answer
}

type outcome struct {
	body []byte
	err  error // *integration.FunctionError
}

func (f *Function) newInvocation(payload []byte) *invocation {
	return &invocation{
		id:        uuid.NewString(),
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
	select {
	case <-inv.delivered:
	case <-in.exited:
		if !in.takeBack() {
			break // the runtime received it before exiting
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
			break
		}
		f.discard(in)
		return nil, in.initError(), false
	case <-timer.C:
		if !in.takeBack() {
			break
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
	<-inv.delivered // at most a moment away once the runtime has taken it
	return f.await(ctx, in, inv)
}

// await waits for the outcome of an invocation the runtime has received.
func (f *Function) await(ctx context.Context, in *instance, inv *invocation) ([]byte, error, bool) {
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case o := <-inv.result:
		f.log.Debug("lambda: invocation", "instance", in.id, "request_id", inv.id, "duration", time.Since(inv.received), "error", o.err)
		f.release(in)
		return o.body, o.err, false
	case <-in.exited:
		select {
		case o := <-inv.result: // answered, then exited (aws-lambda-go after a panic)
			f.discard(in)
			return o.body, o.err, false
		default:
		}
		f.log.Warn("lambda: runtime exited during an invocation", "instance", in.id, "request_id", inv.id, "reason", in.exitReason())
		f.discard(in)
		return nil, &integration.FunctionError{
			Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", inv.id, in.exitReason()),
			Type:    "Runtime.ExitError",
		}, false
	case <-timer.C:
		select {
		case o := <-inv.result: // answered at the last moment
			f.release(in)
			return o.body, o.err, false
		default:
		}
		f.log.Warn("lambda: invocation timed out; killing the instance", "instance", in.id, "request_id", inv.id, "timeout", f.opts.Timeout)
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
