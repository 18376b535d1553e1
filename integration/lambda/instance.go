package lambda

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/internal/httpserve"
)

// Runtime API headers, as github.com/aws/aws-lambda-go/lambda uses them.
const (
	headerRequestID          = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	headerInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID            = "Lambda-Runtime-Trace-Id"
	headerErrorType          = "Lambda-Runtime-Function-Error-Type"
	trailerErrorType         = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody         = "Lambda-Runtime-Function-Error-Body"
	headerExtensionName      = "Lambda-Extension-Name"
	headerExtensionID        = "Lambda-Extension-Identifier"

	maxErrorBytes = 1 << 20
)

// instance is one runtime process and the Runtime API server it talks to.
type instance struct {
	f       *Function
	id      string // short id, for logs; the log stream name ends with the long one
	started time.Time
	cmd     *exec.Cmd
	srv     *httpserve.Server
	log     *slog.Logger
	outputs []*os.File    // read ends of the stdout and stderr pipes
	loggers []*lineLogger // what reads them, a line at a time
	// serving is the id of the invocation the runtime has taken and not
	// answered yet (nil between invocations): the label of its raw output.
	serving atomic.Pointer[string]

	// next holds the invocation assigned to the instance until the
	// runtime's /next takes it (capacity 1: an instance serves one
	// invocation at a time).
	next chan *invocation
	// exited is closed once the process has exited and was waited for.
	exited chan struct{}
	// initFailed is closed when the runtime posts /init/error.
	initFailed    chan struct{}
	initFailOnce  sync.Once
	shuttingDown  chan struct{} // closed by shutdown: extensions get SHUTDOWN
	shutdownOnce  sync.Once
	idleTimer     *time.Timer // guarded by f.mu
	firstNextOnce sync.Once
	gen           uint64 // f.gen when it started (guarded by f.mu)

	mu           sync.Mutex
	dead         bool
	exitErr      error
	initErr      *integration.FunctionError
	ready        bool // the runtime has called /next: init is over
	lastDeadline time.Time
	inflight     map[string]*invocation // received by the runtime, not answered
	extensions   int
	termTimer    *time.Timer
	initDuration time.Duration // from the start to the first /next
	served       int           // invocations received
	pausing      int           // SDK installs in progress
	pauseStart   time.Time
	paused       time.Duration // SDK installs done, in total
}

// startInstance starts a new runtime process with its Runtime API server.
func (f *Function) startInstance() (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambda %s: runtime API listener: %w", f.opts.FunctionName, err)
	}
	long := strings.ReplaceAll(uuid.NewString(), "-", "")
	in := &instance{
		f:            f,
		id:           long[:8],
		next:         make(chan *invocation, 1),
		exited:       make(chan struct{}),
		initFailed:   make(chan struct{}),
		shuttingDown: make(chan struct{}),
		inflight:     map[string]*invocation{},
	}
	in.log = f.log.With("instance", in.id)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", in.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", in.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", in.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", in.handleInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", in.handleExtensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", in.handleExtensionNext)
	mux.HandleFunc("POST /2020-01-01/extension/init/error", in.handleExtensionError)
	mux.HandleFunc("POST /2020-01-01/extension/exit/error", in.handleExtensionError)
	mux.HandleFunc("POST /switchboard/node-sdk/install", in.handleInstall)
	// The Runtime API answers only the instance's own process, on
	// loopback: idle and header timeouts, but no read or write timeout
	// (a /next long poll waits as long as the instance is idle, and
	// ReadTimeout would cancel its context) and no connection limit.
	in.srv = httpserve.New(ln, mux, httpserve.Options{ReadTimeout: -1, WriteTimeout: -1, MaxConnections: -1, Logger: in.log})

	// The output goes through pipes of our own rather than exec.Cmd's, so
	// that the process group can be killed as soon as the runtime exits,
	// before waiting for the end of its output (which a child it left
	// behind would otherwise hold open).
	outR, outW, err := os.Pipe()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("lambda %s: %w", f.opts.FunctionName, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		ln.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("lambda %s: %w", f.opts.FunctionName, err)
	}
	in.outputs = []*os.File{outR, errR}
	for _, stream := range []string{"stdout", "stderr"} {
		in.loggers = append(in.loggers, newLineLogger(in.log, stream, f.node != nil, &in.serving))
	}
	cmd := exec.Command(f.path, f.args...)
	cmd.Dir = f.taskRoot
	cmd.Env = f.environ(ln.Addr().String(), long)
	cmd.Stdout = outW
	cmd.Stderr = errW
	cmd.SysProcAttr = sysProcAttr()
	in.cmd = cmd
	in.started = time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		ln.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("lambda %s: starting %s: %w", f.opts.FunctionName, f.path, err)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		killGroup(cmd.Process, syscall.SIGKILL)
		cmd.Wait()
		ln.Close()
		outR.Close()
		errR.Close()
		return nil, ErrClosed
	}
	f.all[in] = struct{}{}
	in.gen = f.gen
	f.wg.Add(2)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		in.srv.Serve()
	}()
	go in.watch()
	in.log.Debug("lambda: instance started", "pid", cmd.Process.Pid, "runtimeApi", ln.Addr().String())
	return in, nil
}

// environ is a new instance's environment.
func (f *Function) environ(api, longID string) []string {
	env := map[string]string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	name := f.opts.FunctionName
	env["AWS_LAMBDA_FUNCTION_NAME"] = name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(f.opts.MemoryMB)
	env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + name
	env["AWS_LAMBDA_LOG_STREAM_NAME"] = time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + longID
	env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
	env["AWS_REGION"] = f.region
	env["AWS_DEFAULT_REGION"] = f.region
	env["LAMBDA_TASK_ROOT"] = f.taskRoot
	env["LANG"] = "en_US.UTF-8"
	env["TZ"] = ":UTC"
	var reserved map[string]string
	if f.node != nil {
		reserved = f.node.environ(env, f.taskRoot)
	}
	if f.opts.Environ != nil {
		for k, v := range f.opts.Environ() {
			env[k] = v
		}
	}
	for k, v := range f.opts.Env {
		env[k] = v
	}
	for k, v := range reserved {
		env[k] = v
	}
	if f.opts.Handler != "" {
		env["_HANDLER"] = f.opts.Handler
	}
	env["AWS_LAMBDA_RUNTIME_API"] = api
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// watch waits for the process to exit, then tears the instance down.
func (in *instance) watch() {
	defer in.f.wg.Done()
	var copying sync.WaitGroup
	for i, l := range in.loggers {
		r := in.outputs[i]
		copying.Go(func() { l.copyFrom(r) })
	}
	err := in.cmd.Wait()
	killGroup(in.cmd.Process, syscall.SIGKILL) // children it left behind
	copied := make(chan struct{})
	go func() {
		copying.Wait()
		close(copied)
	}()
	select {
	case <-copied:
	case <-time.After(time.Second): // a child outside the group holds the pipes
		for _, r := range in.outputs {
			r.Close()
		}
		<-copied
	}
	for _, r := range in.outputs {
		r.Close()
	}
	in.mu.Lock()
	in.dead = true
	in.exitErr = err
	if in.termTimer != nil {
		in.termTimer.Stop()
	}
	in.mu.Unlock()
	close(in.exited)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if in.srv.Shutdown(ctx) != nil {
		in.srv.Close()
	}
	cancel()
	in.f.forget(in)
	in.log.Debug("lambda: instance exited", "reason", in.exitReason(), "lifetime", time.Since(in.started))
}

// kill ends the process (and its process group) at once.
func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.dead {
		killGroup(in.cmd.Process, syscall.SIGKILL)
	}
}

// shutdown stops the instance as Lambda does when it retires a sandbox:
// SIGKILL, or, when the runtime registered an extension, a SHUTDOWN event
// and SIGTERM first, then SIGKILL after shutdownGrace.
func (in *instance) shutdown() {
	in.shutdownOnce.Do(func() { close(in.shuttingDown) })
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead || in.termTimer != nil {
		return
	}
	if in.extensions == 0 {
		killGroup(in.cmd.Process, syscall.SIGKILL)
		return
	}
	killGroup(in.cmd.Process, syscall.SIGTERM)
	in.termTimer = time.AfterFunc(shutdownGrace, in.kill)
}

// takeBack withdraws the invocation assigned to the instance if the
// runtime has not received it yet.
func (in *instance) takeBack() bool {
	select {
	case <-in.next:
		return true
	default:
		return false
	}
}

// isDead reports whether the instance can no longer serve.
func (in *instance) isDead() bool {
	select {
	case <-in.exited:
		return true
	case <-in.initFailed:
		return true
	default:
		return false
	}
}

func (in *instance) status() (ready bool, lastDeadline time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ready, in.lastDeadline
}

func (in *instance) wasReady() bool {
	ready, _ := in.status()
	return ready
}

func (in *instance) initError() *integration.FunctionError {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.initErr
}

// exitReason describes how the process ended, in Lambda's words.
func (in *instance) exitReason() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.exitErr == nil {
		return "Runtime exited without providing a reason"
	}
	return in.exitErr.Error()
}

// handleNext serves GET /runtime/invocation/next: it blocks until an
// invocation is assigned to the instance.
func (in *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	in.firstNextOnce.Do(func() {
		in.mu.Lock()
		in.ready = true
		in.initDuration = time.Since(in.started)
		in.mu.Unlock()
		in.log.Debug("lambda: instance initialised", "initDuration", in.initDuration)
	})
	select {
	case inv := <-in.next:
		now := time.Now()
		deadline := now.Add(in.f.opts.Timeout)
		inv.deadline = deadline
		inv.deliveredAt = now
		in.mu.Lock()
		in.inflight[inv.id] = inv
		in.lastDeadline = deadline
		inv.cold = in.served == 0
		inv.initDuration = in.initDuration
		in.served++
		inv.pausedBase = in.paused
		if in.pausing > 0 {
			inv.pausedBase += now.Sub(in.pauseStart)
		}
		in.mu.Unlock()
		in.serving.Store(&inv.id)
		close(inv.delivered)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set(headerRequestID, inv.id)
		h.Set(headerDeadlineMS, strconv.FormatInt(deadline.UnixMilli(), 10))
		h.Set(headerInvokedFunctionARN, in.f.arn)
		h.Set(headerTraceID, inv.traceID)
		h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload)
	case <-r.Context().Done():
	case <-in.exited:
	}
}

// claim removes the invocation a /response or /error names from those in
// flight; it answers 400 itself when there is none.
func (in *instance) claim(w http.ResponseWriter, r *http.Request) *invocation {
	id := r.PathValue("id")
	in.mu.Lock()
	inv := in.inflight[id]
	delete(in.inflight, id)
	in.mu.Unlock()
	if inv != nil {
		// What the runtime printed before it answered belongs to this
		// invocation: let the readers reach it before the label changes.
		in.drainOutput(maxOutputDrain)
		in.serving.Store(nil)
	}
	if inv == nil {
		in.log.Warn("lambda: runtime answered an unknown invocation", "requestId", id, "path", r.URL.Path)
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
	}
	return inv
}

// handleResponse serves POST /runtime/invocation/{id}/response.
func (in *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := in.claim(w, r)
	if inv == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayloadBytes+1))
	switch {
	case err != nil:
		inv.result <- outcome{err: &integration.FunctionError{
			Message: fmt.Sprintf("RequestId: %s Error: reading the runtime's response: %v", inv.id, err),
			Type:    "Runtime.InvalidResponse",
		}}
		apiError(w, http.StatusBadRequest, "InvalidResponse", err.Error())
	case len(body) > maxPayloadBytes:
		msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayloadBytes)
		inv.result <- outcome{err: &integration.FunctionError{Message: msg, Type: "Function.ResponseSizeTooLarge"}}
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
	case r.Trailer.Get(trailerErrorType) != "":
		// A streamed response whose reader failed: aws-lambda-go reports
		// the error in trailers.
		fe := &integration.FunctionError{Type: r.Trailer.Get(trailerErrorType)}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil {
			fe = decodeFunctionError(raw, fe.Type)
		}
		inv.result <- outcome{err: fe}
		accepted(w)
	default:
		inv.result <- outcome{body: body}
		accepted(w)
	}
}

// handleError serves POST /runtime/invocation/{id}/error.
func (in *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv := in.claim(w, r)
	if inv == nil {
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	inv.result <- outcome{err: decodeFunctionError(raw, r.Header.Get(headerErrorType))}
	accepted(w)
}

// handleInitError serves POST /runtime/init/error: the instance is
// discarded and its pending invocation fails with the error.
func (in *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	fe := decodeFunctionError(raw, r.Header.Get(headerErrorType))
	in.log.Warn("lambda: init error", "errorType", fe.Type, "error", fe.Message)
	in.mu.Lock()
	if in.initErr == nil {
		in.initErr = fe
	}
	in.mu.Unlock()
	in.initFailOnce.Do(func() { close(in.initFailed) })
	accepted(w)
}

// handleExtensionRegister serves POST /extension/register. aws-lambda-go
// registers an internal extension for lambda.WithEnableSIGTERM; this only
// serves that use: no INVOKE events are sent, SHUTDOWN is.
func (in *instance) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, maxErrorBytes))
	in.mu.Lock()
	in.extensions++
	in.mu.Unlock()
	in.log.Debug("lambda: extension registered", "extension", r.Header.Get(headerExtensionName))
	w.Header().Set(headerExtensionID, uuid.NewString())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"functionName":    in.f.opts.FunctionName,
		"functionVersion": "$LATEST",
		"handler":         in.f.opts.Handler,
	})
}

// handleExtensionNext serves GET /extension/event/next: it blocks until the
// instance shuts down and then sends the SHUTDOWN event.
func (in *instance) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-in.shuttingDown:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"eventType":      "SHUTDOWN",
			"shutdownReason": "spindown",
			"deadlineMs":     time.Now().Add(shutdownGrace).UnixMilli(),
		})
	case <-r.Context().Done():
	case <-in.exited:
	}
}

func (in *instance) handleExtensionError(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	in.log.Warn("lambda: extension error", "path", r.URL.Path, "errorType", r.Header.Get(headerErrorType), "body", string(raw))
	accepted(w)
}

// decodeFunctionError reads a runtime's error document,
// {"errorMessage","errorType","stackTrace"}, leniently.
func decodeFunctionError(raw []byte, headerType string) *integration.FunctionError {
	var doc struct {
		Message *string `json:"errorMessage"`
		Type    string  `json:"errorType"`
	}
	fe := &integration.FunctionError{Type: headerType}
	if json.Unmarshal(raw, &doc) == nil && doc.Message != nil {
		fe.Message = *doc.Message
		if doc.Type != "" {
			fe.Type = doc.Type
		}
	} else {
		fe.Message = strings.TrimSpace(string(raw))
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	if fe.Message == "" {
		fe.Message = fe.Type
	}
	return fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`+"\n")
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg, "errorType": typ})
}

// newTraceID makes an X-Ray trace header for one invocation.
func newTraceID() string {
	var b [20]byte
	rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
