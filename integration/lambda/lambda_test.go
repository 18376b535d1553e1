package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// Test functions, built once by TestMain from testdata.
var (
	echoBin     string
	initfailBin string
	rawBin      string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-lambda-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoBin = filepath.Join(dir, "echo", "bootstrap")
	initfailBin = filepath.Join(dir, "initfail", "bootstrap")
	rawBin = filepath.Join(dir, "raw", "bootstrap")
	// One go build for the three (it links them in parallel), into bin/,
	// then each moves to its own directory as the runtime's "bootstrap".
	bin := filepath.Join(dir, "bin") + string(filepath.Separator)
	cmd := exec.Command(goTool(), "build", "-o", bin, "./testdata/echo", "./testdata/initfail", "./testdata/raw")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	for name, out := range map[string]string{"echo": echoBin, "initfail": initfailBin, "raw": rawBin} {
		if err == nil {
			err = os.MkdirAll(filepath.Dir(out), 0o755)
		}
		if err == nil {
			err = os.Rename(filepath.Join(bin, name), out)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test functions: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

var quiet = testutil.DiscardLogger()

// newFunction starts a Function on the echo test function unless opts say
// otherwise; it is closed when the test ends.
func newFunction(t *testing.T, opts lambda.Options) *lambda.Function {
	t.Helper()
	if opts.Path == "" {
		opts.Path = echoBin
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	fn, err := lambda.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fn.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return fn
}

func invoke(t *testing.T, fn *lambda.Function, payload string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return fn.Invoke(ctx, []byte(payload))
}

type info struct {
	PID         int               `json:"pid"`
	Env         map[string]string `json:"env"`
	DeadlineMs  int64             `json:"deadlineMs"`
	RemainingMs int64             `json:"remainingMs"`
	RequestID   string            `json:"requestId"`
	ARN         string            `json:"arn"`
	TraceID     string            `json:"traceId"`
	Cwd         string            `json:"cwd"`
	Args        []string          `json:"args"`
}

func getInfo(t *testing.T, fn *lambda.Function) info {
	t.Helper()
	out, err := invoke(t, fn, `{"op":"info"}`)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	var i info
	if err := json.Unmarshal(out, &i); err != nil {
		t.Fatalf("info: %v in %s", err, out)
	}
	return i
}

func pidOf(t *testing.T, out []byte) int {
	t.Helper()
	var v struct{ PID int }
	if err := json.Unmarshal(out, &v); err != nil || v.PID == 0 {
		t.Fatalf("no pid in %s (%v)", out, err)
	}
	return v.PID
}

func functionError(t *testing.T, err error) *integration.FunctionError {
	t.Helper()
	var fe *integration.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want a *integration.FunctionError", err, err)
	}
	return fe
}

// alive reports whether a process with pid exists (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return runtime.GOOS != "linux"
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, func() bool { return !alive(pid) }, "process %d to exit", pid)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	for name, opts := range map[string]lambda.Options{
		"no path":        {},
		"missing":        {Path: filepath.Join(dir, "nope")},
		"directory":      {Path: dir},
		"not executable": {Path: plain},
		"negative":       {Path: echoBin, Timeout: -time.Second},
	} {
		if _, err := lambda.New(opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestRoundtrip(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	in := `{"op":"echo","list":[1,2,3],"s":"héllo <&>"}`
	out, err := invoke(t, fn, in)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal([]byte(in), &a)
	if err := json.Unmarshal(out, &b); err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("echo: %s (%v), want %s", out, err, in)
	}
	// A handler that returns nothing answers null.
	if out, err := invoke(t, fn, `{"op":"print","text":"x"}`); err != nil || string(out) != "null" {
		t.Fatalf("nil result: %q %v", out, err)
	}
}

func TestFunctionError(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	before := getInfo(t, fn).PID
	_, err := invoke(t, fn, `{"op":"error","text":"Unauthorized"}`)
	fe := functionError(t, err)
	if fe.Message != "Unauthorized" || fe.Type != "errorString" {
		t.Fatalf("error: %+v", fe)
	}
	// A reported error leaves the instance in service.
	if after := getInfo(t, fn).PID; after != before {
		t.Fatalf("pid %d after an error, was %d", after, before)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	before := getInfo(t, fn).PID
	_, err := invoke(t, fn, `{"op":"panic","text":"kaboom"}`)
	fe := functionError(t, err)
	if fe.Message != "kaboom" || fe.Type != "string" {
		t.Fatalf("panic: %+v", fe)
	}
	// aws-lambda-go exits after reporting a panic; the next invocation
	// gets a new instance and does not fail.
	waitGone(t, before, 5*time.Second)
	if after := getInfo(t, fn).PID; after == before {
		t.Fatalf("same pid %d after a panic", after)
	}
}

// TestPanicThenImmediateInvoke invokes right after the panic, racing the
// runtime's exit: the invocation must not be charged with that exit.
func TestPanicThenImmediateInvoke(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Concurrency: 1})
	for range 5 {
		invoke(t, fn, `{"op":"panic","text":"kaboom"}`)
		if _, err := invoke(t, fn, `{"op":"echo"}`); err != nil {
			t.Fatalf("after a panic: %v", err)
		}
	}
}

func TestExitCrash(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	before := getInfo(t, fn).PID
	_, err := invoke(t, fn, `{"op":"exit"}`)
	fe := functionError(t, err)
	if fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "Runtime exited with error: exit status 3") {
		t.Fatalf("exit: %+v", fe)
	}
	after := getInfo(t, fn).PID
	if after == before {
		t.Fatalf("same pid %d after a crash", after)
	}
	if alive(before) {
		t.Fatalf("crashed process %d still there", before)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Timeout: 500 * time.Millisecond})
	before := getInfo(t, fn).PID
	start := time.Now()
	_, err := invoke(t, fn, `{"op":"sleep","ms":5000}`)
	elapsed := time.Since(start)
	fe := functionError(t, err)
	if fe.Type != "Sandbox.Timedout" || !strings.Contains(fe.Message, "Task timed out after 0.50 seconds") {
		t.Fatalf("timeout: %+v", fe)
	}
	// The upper bound only tells the timeout from the 5 s sleep running
	// out: the machine may be loaded.
	if elapsed < 450*time.Millisecond || elapsed > 4*time.Second {
		t.Fatalf("timed out after %v, want about 500ms (not the 5 s sleep)", elapsed)
	}
	waitGone(t, before, 2*time.Second)
	if after := getInfo(t, fn).PID; after == before {
		t.Fatalf("same pid %d after a timeout", after)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Timeout: 2 * time.Second})
	getInfo(t, fn) // warm
	now := time.Now()
	i := getInfo(t, fn)
	want := now.Add(2 * time.Second).UnixMilli()
	if d := i.DeadlineMs - want; d < -50 || d > 300 {
		t.Fatalf("deadline %d is %dms from now+2s", i.DeadlineMs, d)
	}
	if i.RemainingMs < 1700 || i.RemainingMs > 2000 {
		t.Fatalf("remaining %dms, want about 2000", i.RemainingMs)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("SWITCHBOARD_LEAK_CHECK", "secret")
	fn := newFunction(t, lambda.Options{
		Args:         []string{"a1", "a2"},
		Env:          map[string]string{"FOO": "bar", "AWS_REGION": "eu-west-1"},
		Handler:      "my.handler",
		FunctionName: "chat-fn",
		MemoryMB:     256,
	})
	i := getInfo(t, fn)
	root := filepath.Dir(echoBin)
	for k, want := range map[string]string{
		"FOO":                             "bar",
		"_HANDLER":                        "my.handler",
		"AWS_LAMBDA_FUNCTION_NAME":        "chat-fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/chat-fn",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"LAMBDA_TASK_ROOT":                root,
		"TZ":                              ":UTC",
		"PATH":                            os.Getenv("PATH"),
		"SWITCHBOARD_LEAK_CHECK":          "",
	} {
		if got := i.Env[k]; got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if s := i.Env["AWS_LAMBDA_LOG_STREAM_NAME"]; !strings.Contains(s, "/[$LATEST]") {
		t.Errorf("log stream %q", s)
	}
	if !strings.HasPrefix(i.Env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API=%q", i.Env["AWS_LAMBDA_RUNTIME_API"])
	}
	if i.ARN != "arn:aws:lambda:eu-west-1:000000000000:function:chat-fn" {
		t.Errorf("arn %q", i.ARN)
	}
	if len(i.RequestID) != 36 || !strings.HasPrefix(i.TraceID, "Root=1-") {
		t.Errorf("request id %q, trace id %q", i.RequestID, i.TraceID)
	}
	if i.Cwd != root || strings.Join(i.Args, " ") != "a1 a2" {
		t.Errorf("cwd %q args %q", i.Cwd, i.Args)
	}
	// Defaults.
	def := getInfo(t, newFunction(t, lambda.Options{}))
	for k, want := range map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "bootstrap", "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"} {
		if got := def.Env[k]; got != want {
			t.Errorf("default %s=%q, want %q", k, got, want)
		}
	}
}

func TestConcurrency(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Concurrency: 3})
	const n = 9
	var mu sync.Mutex
	pids := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			out, err := invoke(t, fn, `{"op":"sleep","ms":300}`)
			if err != nil {
				t.Error(err)
				return
			}
			pid := pidOf(t, out)
			mu.Lock()
			pids[pid]++
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(pids) != 3 {
		t.Fatalf("%d instances (%v), want 3", len(pids), pids)
	}
	// 9 invocations of 300ms on 3 instances take 3 rounds.
	if elapsed < 850*time.Millisecond {
		t.Fatalf("%d invocations took %v: more than 3 ran at once", n, elapsed)
	}
	t.Logf("%d invocations of 300ms on 3 instances: %v", n, elapsed)
}

func TestWarmReuseAndTiming(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	start := time.Now()
	first := getInfo(t, fn).PID
	cold := time.Since(start)
	const n = 200
	start = time.Now()
	for range n {
		if _, err := invoke(t, fn, `{"op":"echo"}`); err != nil {
			t.Fatal(err)
		}
	}
	warm := time.Since(start) / n
	for range 3 {
		if pid := getInfo(t, fn).PID; pid != first {
			t.Fatalf("pid %d, then %d: instance not reused", first, pid)
		}
	}
	t.Logf("cold start (process start, init, first invocation): %v; warm invocation: %v", cold, warm)
}

func TestInitError(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Path: initfailBin})
	for range 2 { // each invocation gets a new instance, which fails again
		_, err := invoke(t, fn, `{}`)
		fe := functionError(t, err)
		if fe.Type != "ConfigError" || fe.Message != "REQUIRED_SETTING is not set" {
			t.Fatalf("init error: %+v", fe)
		}
	}
	ok := newFunction(t, lambda.Options{Path: initfailBin, Env: map[string]string{"REQUIRED_SETTING": "1"}})
	if out, err := invoke(t, ok, `{}`); err != nil || string(out) != `"ok"` {
		t.Fatalf("with the setting: %s %v", out, err)
	}
}

func TestExitDuringInit(t *testing.T) {
	t.Parallel()
	// The script leaves a child behind, which holds its stdout open: the
	// child is killed with the process group and does not delay anything.
	script := filepath.Join(t.TempDir(), "bootstrap")
	os.WriteFile(script, []byte("#!/bin/sh\nsleep 30 &\necho child $!\nexit 2\n"), 0o755)
	rec := newRecording()
	fn := newFunction(t, lambda.Options{Path: script, Logger: slog.New(rec)})
	start := time.Now()
	_, err := invoke(t, fn, `{}`)
	fe := functionError(t, err)
	if fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "exit status 2") {
		t.Fatalf("exit during init: %+v", fe)
	}
	// Far below the 30 s the child lives: the exit is reported without
	// waiting for the child's output to end.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("init exit reported after %v", d)
	}
	line := rec.waitFor(t, "of the child's pid", func(m map[string]string) bool { return strings.HasPrefix(m["msg"], "child ") })
	var child int
	fmt.Sscan(strings.TrimPrefix(line["msg"], "child "), &child)
	waitGone(t, child, 2*time.Second)
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Concurrency: 1, Timeout: 5 * time.Second})
	pid := getInfo(t, fn).PID
	// The invocation sleeps far longer than the caller waits, so that
	// "returned at ctx's end" and "waited for the function" cannot be
	// confused however loaded the machine is.
	const sleep = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fn.Invoke(ctx, []byte(`{"op":"sleep","ms":2000}`))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) >= sleep {
		t.Fatalf("got %v after %v, want DeadlineExceeded before the function's %v ended", err, time.Since(start), sleep)
	}
	// The invocation still runs and holds the only instance: a caller
	// waiting for one gives up when its ctx ends.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := fn.Invoke(ctx2, []byte(`{"op":"echo"}`)); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) >= sleep {
		t.Fatalf("waiting for an instance: %v after %v, want DeadlineExceeded while the abandoned invocation runs", err, time.Since(start))
	}
	// Once it is over, the same instance serves again.
	if got := getInfo(t, fn).PID; got != pid {
		t.Fatalf("pid %d, want the warm %d", got, pid)
	}
	if time.Since(start) < sleep-50*time.Millisecond {
		t.Fatalf("next invocation served after %v, before the abandoned one ended", time.Since(start))
	}
	// An already ended ctx runs nothing.
	done, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := fn.Invoke(done, []byte(`{"op":"exit"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if got := getInfo(t, fn).PID; got != pid {
		t.Fatalf("pid %d after a cancelled invocation, want %d", got, pid)
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Timeout: 10 * time.Second})
	if _, err := invoke(t, fn, `{"op":"big","n":6000000}`); err != nil {
		t.Fatalf("6 MB response: %v", err)
	}
	_, err := invoke(t, fn, `{"op":"big","n":7000000}`)
	fe := functionError(t, err)
	if fe.Type != "Function.ResponseSizeTooLarge" {
		t.Fatalf("7 MB response: %+v", fe)
	}
	if _, err := invoke(t, fn, `{"op":"echo"}`); err != nil {
		t.Fatalf("after a too large response: %v", err)
	}
	if _, err := fn.Invoke(context.Background(), make([]byte, 7<<20)); err == nil {
		t.Fatal("7 MB request accepted")
	}
}

func TestIdleTTL(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{IdleTTL: 200 * time.Millisecond})
	pid := getInfo(t, fn).PID
	if again := getInfo(t, fn).PID; again != pid {
		t.Fatalf("pid %d then %d within the TTL", pid, again)
	}
	waitGone(t, pid, 3*time.Second)
	if after := getInfo(t, fn).PID; after == pid {
		t.Fatalf("same pid %d after the idle TTL", after)
	}
}

// recording is a slog.Handler that keeps every record with its attributes.
type recording struct {
	mu    *sync.Mutex
	recs  *[]map[string]string
	attrs []slog.Attr
}

func newRecording() *recording {
	return &recording{mu: &sync.Mutex{}, recs: &[]map[string]string{}}
}

func (h *recording) Enabled(context.Context, slog.Level) bool { return true }
func (h *recording) WithGroup(string) slog.Handler            { return h }
func (h *recording) WithAttrs(as []slog.Attr) slog.Handler {
	return &recording{mu: h.mu, recs: h.recs, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h *recording) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h *recording) find(pred func(map[string]string) bool) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range *h.recs {
		if pred(m) {
			return m
		}
	}
	return nil
}

// all returns a copy of every record so far.
func (h *recording) all() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]string(nil), *h.recs...)
}

func (h *recording) waitFor(t *testing.T, what string, pred func(map[string]string) bool) map[string]string {
	t.Helper()
	var m map[string]string
	testutil.Eventually(t, 5*time.Second, func() bool { m = h.find(pred); return m != nil }, "a log record %s", what)
	return m
}

func TestLogs(t *testing.T) {
	t.Parallel()
	rec := newRecording()
	fn := newFunction(t, lambda.Options{FunctionName: "logger-fn", Logger: slog.New(rec)})
	if _, err := invoke(t, fn, `{"op":"print","text":"hello from the function"}`); err != nil {
		t.Fatal(err)
	}
	out := rec.waitFor(t, "of stdout", func(m map[string]string) bool { return m["msg"] == "hello from the function" })
	if out["function"] != "logger-fn" || len(out["instance"]) != 8 || out["stream"] != "stdout" {
		t.Fatalf("stdout record: %v", out)
	}
	rec.waitFor(t, "of stderr", func(m map[string]string) bool {
		return strings.HasSuffix(m["msg"], "hello from the function (stderr)") && m["stream"] == "stderr" && m["instance"] == out["instance"]
	})
}

// TestRawOutputCarriesRequestID: what a Go function prints with fmt and
// log (no request id of its own) is labelled with the invocation it was
// printed in, and never with the next one, invocation after invocation on
// one instance.
func TestRawOutputCarriesRequestID(t *testing.T) {
	t.Parallel()
	rec := newRecording()
	fn := newFunction(t, lambda.Options{Logger: slog.New(rec)})
	for i := range 30 {
		text := fmt.Sprintf("printed in invocation %d", i)
		out, err := invoke(t, fn, fmt.Sprintf(`{"op":"printid","text":%q}`, text))
		if err != nil {
			t.Fatal(err)
		}
		var id string
		if err := json.Unmarshal(out, &id); err != nil || id == "" {
			t.Fatalf("answer %s: %v", out, err)
		}
		stdout := rec.waitFor(t, "of stdout", func(m map[string]string) bool { return m["msg"] == text })
		stderr := rec.waitFor(t, "of stderr", func(m map[string]string) bool { return strings.HasSuffix(m["msg"], text+" (stderr)") })
		if stdout["requestId"] != id || stderr["requestId"] != id {
			t.Fatalf("invocation %s: stdout line %v, stderr line %v", id, stdout, stderr)
		}
	}
}

func TestSIGTERMOnClose(t *testing.T) {
	t.Parallel()
	rec := newRecording()
	fn, err := lambda.New(lambda.Options{Path: echoBin, Logger: slog.New(rec), Env: map[string]string{"ENABLE_SIGTERM": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(t, fn, `{"op":"echo"}`); err != nil {
		t.Fatal(err)
	}
	if err := fn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "of the SIGTERM handler", func(m map[string]string) bool { return m["msg"] == "SIGTERM received" })
}

// Not parallel: it counts the goroutines of the whole test binary.
func TestCloseStopsProcessesWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	rec := newRecording()
	fn, err := lambda.New(lambda.Options{Path: echoBin, Logger: slog.New(rec), Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	pids := map[int]bool{}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			out, err := invoke(t, fn, `{"op":"sleep","ms":200}`)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			pids[pidOf(t, out)] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	// One invocation in flight while Close runs.
	inflight := make(chan error, 1)
	go func() {
		_, err := fn.Invoke(context.Background(), []byte(`{"op":"sleep","ms":5000,"text":"in flight"}`))
		inflight <- err
	}()
	rec.waitFor(t, "of the in-flight invocation", func(m map[string]string) bool { return m["msg"] == "in flight" })
	start := time.Now()
	if err := fn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close of %d instances: %v", len(pids), time.Since(start))
	if err := <-inflight; !errors.Is(err, lambda.ErrClosed) {
		t.Fatalf("in-flight invocation: %v, want ErrClosed", err)
	}
	for pid := range pids {
		if alive(pid) {
			t.Errorf("process %d alive after Close", pid)
		}
	}
	if _, err := fn.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambda.ErrClosed) {
		t.Fatalf("Invoke after Close: %v", err)
	}
	if err := fn.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !testutil.Poll(3*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

// The raw runtime talks to the Runtime API without aws-lambda-go.
func TestRawRuntime(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{Path: rawBin, Concurrency: 1, Timeout: 300 * time.Millisecond})
	type answer struct{ PID, Status int }
	call := func(op string) (answer, error) {
		t.Helper()
		out, err := invoke(t, fn, `{"op":"`+op+`"}`)
		var a answer
		if err == nil {
			if err := json.Unmarshal(out, &a); err != nil {
				t.Fatalf("%s: %s", op, out)
			}
		}
		return a, err
	}
	first, err := call("echo")
	if err != nil {
		t.Fatal(err)
	}
	// An answer for an unknown request id is refused with 400.
	if a, err := call("bad-id"); err != nil || a.Status != 400 || a.PID != first.PID {
		t.Fatalf("bad-id: %+v %v", a, err)
	}
	// An error body that is not JSON: its text and the header's type.
	_, err = call("error-text")
	if fe := functionError(t, err); fe.Message != "plain failure" || fe.Type != "Custom.Plain" {
		t.Fatalf("error-text: %+v", fe)
	}
	// A runtime that exits after answering, before asking for more: the
	// next invocation goes to a new instance instead of failing.
	if _, err := call("answer-exit"); err != nil {
		t.Fatal(err)
	}
	next, err := call("echo")
	if err != nil || next.PID == first.PID {
		t.Fatalf("after answer-exit: %+v %v (first pid %d)", next, err, first.PID)
	}
	// A runtime that answers but never asks for more is killed once the
	// previous invocation's deadline has passed; the next one goes to a
	// new instance.
	if _, err := call("answer-stall"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	last, err := call("echo")
	if err != nil || last.PID == next.PID {
		t.Fatalf("after answer-stall: %+v %v", last, err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("after answer-stall: took %v", d)
	}
	waitGone(t, next.PID, 2*time.Second)
}
