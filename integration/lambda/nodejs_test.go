package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// Node.js functions, run by the installed node through the runtime client of
// this package. The tests skip only when node is not on PATH.

func needNode(t testing.TB) {
	t.Helper()
	testutil.RequireNode(t)
}

const nodeTestdata = "testdata/node"

// nodeFunction starts a nodejs20.x function on dir (under testdata/node
// unless absolute) with handler; it is closed when the test ends, and its
// log is printed if the test failed.
func nodeFunction(t *testing.T, dir, handler string, opts lambda.Options) (*lambda.Function, *recording) {
	t.Helper()
	needNode(t)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(nodeTestdata, dir)
	}
	opts.Runtime = cmpOr(opts.Runtime, "nodejs20.x")
	opts.CodeDir = dir
	opts.Handler = handler
	if opts.NodeSDKDir == "" {
		opts.NodeSDKDir = t.TempDir() // nothing installed
	}
	rec := newRecording()
	if opts.Logger == nil {
		opts.Logger = slog.New(rec)
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
		if t.Failed() {
			for _, m := range rec.all() {
				t.Logf("log: %v", m)
			}
		}
	})
	return fn, rec
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// call invokes fn and decodes its JSON answer into a generic value.
func call(t *testing.T, fn *lambda.Function, payload string) (any, error) {
	t.Helper()
	out, err := invoke(t, fn, payload)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", out, err)
	}
	return v, nil
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestNodeModuleKinds(t *testing.T) {
	t.Parallel()
	needNode(t)
	for _, c := range []struct{ name, dir, handler, payload, want string }{
		{"commonjs", "basic", "index.handler", `{"op":"echo","s":"héllo","n":[1,2]}`, `{"n":[1,2],"op":"echo","s":"héllo"}`},
		{"nested path and export", "basic", "src/app.nested.deep.hello", `{}`, `"deep hello"`},
		{"mjs", "basic", "app.handler", `{"a":1}`, `{"event":{"a":1},"kind":"mjs","url":true}`},
		{"cjs", "basic", "legacy.handler", `{}`, `{"kind":"cjs","require":"function"}`},
		{"type module", "esm", "index.handler", `{}`, `{"functionName":"esm-fn","kind":"esm","loadedAt":"string","requireDefined":false}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fn, _ := nodeFunction(t, c.dir, c.handler, lambda.Options{FunctionName: "esm-fn"})
			v, err := call(t, fn, c.payload)
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonOf(v); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestNodeContextAndEnvironment(t *testing.T) {
	t.Parallel()
	fn, _ := nodeFunction(t, "basic", "index.handler", lambda.Options{
		FunctionName: "ctx-fn",
		MemoryMB:     256,
		Timeout:      2 * time.Second,
		Env: map[string]string{
			"FOO":               "bar",
			"AWS_REGION":        "eu-west-1",
			"NODE_PATH":         "/custom/node_path", // Lambda lets a function set it
			"AWS_EXECUTION_ENV": "mine",              // reserved: Lambda's wins
			"LAMBDA_TASK_ROOT":  "/elsewhere",        // reserved
		},
	})
	getInfo := func() map[string]any {
		t.Helper()
		v, err := call(t, fn, `{"op":"info"}`)
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)
	}
	first := getInfo()
	i := getInfo()
	if i["pid"] != first["pid"] {
		t.Fatalf("pid %v then %v: the warm instance was not reused", first["pid"], i["pid"])
	}
	root, _ := filepath.Abs(filepath.Join(nodeTestdata, "basic"))
	for k, want := range map[string]any{
		"functionName":                   "ctx-fn",
		"functionVersion":                "$LATEST",
		"invokedFunctionArn":             "arn:aws:lambda:eu-west-1:000000000000:function:ctx-fn",
		"memoryLimitInMB":                "256", // a string, as on Lambda
		"logGroupName":                   "/aws/lambda/ctx-fn",
		"callbackWaitsForEmptyEventLoop": true,
		"cwd":                            root,
	} {
		if i[k] != want {
			t.Errorf("%s = %#v, want %#v", k, i[k], want)
		}
	}
	if id, _ := i["awsRequestId"].(string); len(id) != 36 || id == first["awsRequestId"] {
		t.Errorf("awsRequestId %q (first %q)", id, first["awsRequestId"])
	}
	if s, _ := i["logStreamName"].(string); !strings.Contains(s, "/[$LATEST]") {
		t.Errorf("logStreamName %q", s)
	}
	if ms, _ := i["remainingMs"].(float64); ms < 1000 || ms > 2000 {
		t.Errorf("remainingMs %v, want a little under 2000", ms)
	}
	if s, _ := i["traceId"].(string); !strings.HasPrefix(s, "Root=1-") || s == first["traceId"] {
		t.Errorf("_X_AMZN_TRACE_ID %q", s)
	}
	if jsonOf(i["legacy"]) != `["function","function","function"]` {
		t.Errorf("context.done/succeed/fail: %v", i["legacy"])
	}
	env := i["env"].(map[string]any)
	for k, want := range map[string]string{
		"FOO":               "bar",
		"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
		"LAMBDA_TASK_ROOT":  root,
		"_HANDLER":          "index.handler",
		"NODE_PATH":         "/custom/node_path",
		"AWS_REGION":        "eu-west-1",
	} {
		if env[k] != want {
			t.Errorf("env %s = %v, want %q", k, env[k], want)
		}
	}
	rt, _ := env["LAMBDA_RUNTIME_DIR"].(string)
	if _, err := os.Stat(filepath.Join(rt, "runtime.mjs")); err != nil {
		t.Errorf("LAMBDA_RUNTIME_DIR %q: %v", rt, err)
	}
	if !strings.Contains(jsonOf(i["execArgv"]), "--expose-gc") {
		t.Errorf("node options %v", i["execArgv"])
	}

	// Without an override, NODE_PATH is Lambda's equivalent: the SDK's
	// node_modules, the runtime directory, the code directory.
	sdk := t.TempDir()
	fn2, _ := nodeFunction(t, "basic", "index.handler", lambda.Options{NodeSDKDir: sdk})
	v, err := call(t, fn2, `{"op":"info"}`)
	if err != nil {
		t.Fatal(err)
	}
	env2 := v.(map[string]any)["env"].(map[string]any)
	if want := strings.Join([]string{filepath.Join(sdk, "node_modules"), env2["LAMBDA_RUNTIME_DIR"].(string), root}, ":"); env2["NODE_PATH"] != want {
		t.Errorf("NODE_PATH %v, want %s", env2["NODE_PATH"], want)
	}
	if env2["SWITCHBOARD_NODE_SDK_DIR"] != sdk {
		t.Errorf("SWITCHBOARD_NODE_SDK_DIR %v, want %s", env2["SWITCHBOARD_NODE_SDK_DIR"], sdk)
	}
}

// TestNodeFunctionErrors checks the error documents of a handler's
// failures, as the gateway gets them, and that the instance stays in
// service after each.
func TestNodeFunctionErrors(t *testing.T) {
	t.Parallel()
	fn, _ := nodeFunction(t, "basic", "index.handler", lambda.Options{Concurrency: 1})
	cb, _ := nodeFunction(t, "basic", "callback.handler", lambda.Options{Concurrency: 1})
	pid := func() any {
		v, err := call(t, fn, `{"op":"info"}`)
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)["pid"]
	}
	before := pid()
	for _, c := range []struct {
		fn            *lambda.Function
		payload       string
		typ, msg      string
		messagePrefix bool
	}{
		{fn, `{"op":"throw","text":"boom"}`, "Error", "boom", false},
		{fn, `{"op":"throwCustom","text":"name is required"}`, "ValidationError", "name is required", false},
		{fn, `{"op":"throwString","text":"a plain string"}`, "string", "a plain string", false},
		{fn, `{"op":"throwObject"}`, "object", "[object Object]", false},
		{fn, `{"op":"circular"}`, "Error", "Unable to stringify response body", false},
		{fn, `{"op":"never"}`, "Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code.", true},
		{fn, `not json`, "SyntaxError", "Unexpected token", true},
		{cb, `{"op":"error"}`, "Error", "callback failed", false},
		{cb, `{"op":"errorString"}`, "string", "just a string", false},
		{cb, `{"op":"fail"}`, "Error", "failed via context.fail", false},
		{cb, `{"op":"syncThrow"}`, "RangeError", "thrown synchronously", false},
	} {
		_, err := invoke(t, c.fn, c.payload)
		fe := functionError(t, err)
		if fe.Type != c.typ || (c.messagePrefix && !strings.HasPrefix(fe.Message, c.msg)) || (!c.messagePrefix && fe.Message != c.msg) {
			t.Errorf("%s: got %q %q, want %q %q", c.payload, fe.Type, fe.Message, c.typ, c.msg)
		}
	}
	if after := pid(); after != before {
		t.Fatalf("pid %v after reported errors, was %v", after, before)
	}
}

func TestNodeCallbackHandlers(t *testing.T) {
	t.Parallel()
	fn, _ := nodeFunction(t, "basic", "callback.handler", lambda.Options{Concurrency: 1})
	for _, c := range []struct{ payload, want string }{
		// callbackWaitsForEmptyEventLoop: the answer leaves once the timer
		// has run (and changed it) ...
		{`{"op":"wait"}`, `{"timer":true}`},
		// ... or at once when the handler turned it off.
		{`{"op":"wait","noWait":true}`, `{"timer":false}`},
		{`{"op":"twice"}`, `"first"`},
		{`{"op":"succeed"}`, `{"via":"succeed"}`},
		{`{"op":"done"}`, `"via done"`},
		// A non-async handler that neither calls back nor returns a
		// promise answers null once the event loop is empty.
		{`{"op":"noAnswer"}`, `null`},
	} {
		v, err := call(t, fn, c.payload)
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if got := jsonOf(v); got != c.want {
			t.Errorf("%s: got %s, want %s", c.payload, got, c.want)
		}
	}
}

// TestNodeCrashes: an unhandled rejection or an uncaught exception during
// an invocation is reported for it, and the runtime exits (128, 129) as
// Lambda's does; so does process.exit. The next invocation gets a new
// instance.
func TestNodeCrashes(t *testing.T) {
	t.Parallel()
	fn, _ := nodeFunction(t, "basic", "index.handler", lambda.Options{Concurrency: 1, Timeout: 5 * time.Second})
	pid := func() int {
		out, err := invoke(t, fn, `{"op":"info"}`)
		if err != nil {
			t.Fatal(err)
		}
		return pidOf(t, out)
	}
	for _, c := range []struct{ payload, typ, msg string }{
		{`{"op":"unhandled","text":"lost"}`, "Runtime.UnhandledPromiseRejection", "Error: lost"},
		{`{"op":"uncaught","text":"late failure"}`, "TypeError", "late failure"},
		{`{"op":"exit"}`, "Runtime.ExitError", "Runtime exited with error: exit status 3"},
	} {
		before := pid()
		_, err := invoke(t, fn, c.payload)
		fe := functionError(t, err)
		if fe.Type != c.typ || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%s: got %q %q, want %q %q", c.payload, fe.Type, fe.Message, c.typ, c.msg)
		}
		waitGone(t, before, 5*time.Second)
		if after := pid(); after == before {
			t.Errorf("%s: same pid %d afterwards", c.payload, after)
		}
	}
}

// TestNodeInitErrors: what fails while the runtime loads the handler is
// reported through /runtime/init/error, as Lambda reports it, and every
// invocation gets a new instance that fails again.
func TestNodeInitErrors(t *testing.T) {
	t.Parallel()
	needNode(t)
	for _, c := range []struct {
		dir, handler string
		typ, msg     string // msg: a prefix
	}{
		{"initerr", "throws.handler", "TypeError", "bad config at import"},
		{"initerr", "syntax.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"},
		{"initerr", "syntaxesm.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"},
		{"initerr", "noexport.handler", "Runtime.HandlerNotFound", "noexport.handler is undefined or not exported"},
		{"initerr", "notfunc.handler", "Runtime.HandlerNotFound", "notfunc.handler is not a function"},
		{"basic", "src/app.notAFunction", "Runtime.HandlerNotFound", "src/app.notAFunction is not a function"},
		{"initerr", "nothere.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nothere'\nRequire stack:"},
		{"initerr", "missingdep.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'switchboard-not-installed-package'"},
		{"initerr", "missingdepesm.handler", "Error", "Cannot find package 'switchboard-not-installed-package' imported from "},
		{"initerr", "reject.handler", "Runtime.UnhandledPromiseRejection", "Error: rejected at init"},
		{"initerr", "exit.handler", "Runtime.ExitError", "RequestId: "},
	} {
		t.Run(c.handler, func(t *testing.T) {
			t.Parallel()
			fn, _ := nodeFunction(t, c.dir, c.handler, lambda.Options{})
			for range 2 {
				_, err := invoke(t, fn, `{}`)
				fe := functionError(t, err)
				if fe.Type != c.typ || !strings.HasPrefix(fe.Message, c.msg) {
					t.Fatalf("got %q %q, want %q %q...", fe.Type, fe.Message, c.typ, c.msg)
				}
				if c.typ == "Runtime.ExitError" && !strings.Contains(fe.Message, "Runtime exited during init: exit status 3") {
					t.Fatalf("exit at start: %q", fe.Message)
				}
			}
		})
	}
}

func TestNodeNewValidates(t *testing.T) {
	needNode(t)
	basic := filepath.Join(nodeTestdata, "basic")
	for name, c := range map[string]struct {
		opts lambda.Options
		want string
	}{
		"unknown runtime":  {lambda.Options{Runtime: "nodejs16.x", CodeDir: basic, Handler: "index.handler"}, `"nodejs16.x" is not supported`},
		"python":           {lambda.Options{Runtime: "python3.12", CodeDir: basic, Handler: "index.handler"}, "is not supported"},
		"no code dir":      {lambda.Options{Runtime: "nodejs20.x", Handler: "index.handler"}, "Options.CodeDir: missing"},
		"code dir missing": {lambda.Options{Runtime: "nodejs20.x", CodeDir: filepath.Join(basic, "nope"), Handler: "index.handler"}, "Options.CodeDir"},
		"code dir a file":  {lambda.Options{Runtime: "nodejs20.x", CodeDir: filepath.Join(basic, "index.js"), Handler: "index.handler"}, "is not a directory"},
		"path":             {lambda.Options{Runtime: "nodejs20.x", CodeDir: basic, Handler: "index.handler", Path: echoBin}, "Options.Path: not used by nodejs20.x"},
		"no handler":       {lambda.Options{Runtime: "nodejs20.x", CodeDir: basic}, "Options.Handler: missing"},
		"no export":        {lambda.Options{Runtime: "nodejs20.x", CodeDir: basic, Handler: "index"}, `"index": want "file.export"`},
		"dot dot":          {lambda.Options{Runtime: "nodejs20.x", CodeDir: basic, Handler: "../basic/index.handler"}, "may not contain '..'"},
	} {
		_, err := lambda.New(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
	// Without node on PATH: a clear error at once.
	t.Setenv("PATH", t.TempDir())
	_, err := lambda.New(lambda.Options{Runtime: "nodejs20.x", CodeDir: basic, Handler: "index.handler"})
	if err == nil || !strings.Contains(err.Error(), "node is not on PATH") {
		t.Fatalf("without node: %v", err)
	}
}

var versionWarningSeen bool

func TestNodeVersionWarning(t *testing.T) {
	t.Parallel()
	needNode(t)
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	major := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".", 2)[0]
	other := "nodejs18.x"
	if major == "18" {
		other = "nodejs22.x"
	}
	warned := func(rec *recording) bool {
		return rec.find(func(m map[string]string) bool {
			return strings.Contains(m["msg"], "major version differs") && m["runtime"] == other
		}) != nil
	}
	fn, rec := nodeFunction(t, "basic", "index.handler", lambda.Options{Runtime: other})
	// Once per process: a second run of the test (-count) sees none.
	if !versionWarningSeen && !warned(rec) {
		t.Errorf("no warning for %s on node %s", other, major)
	}
	versionWarningSeen = true
	if _, err := invoke(t, fn, `{"op":"echo"}`); err != nil {
		t.Fatalf("%s on node %s: %v", other, major, err)
	}
	_, again := nodeFunction(t, "basic", "index.handler", lambda.Options{Runtime: other})
	if warned(again) {
		t.Errorf("warned twice")
	}
}

// TestNodeLogs: each console call is one record, at its level, with the
// request id; every invocation has its line.
func TestNodeLogs(t *testing.T) {
	t.Parallel()
	fn, rec := nodeFunction(t, "basic", "index.handler", lambda.Options{FunctionName: "log-fn"})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ctx = lambda.WithLogAttrs(ctx, slog.String("route", "sendmessage"), slog.String("connectionId", "abc="))
	if _, err := fn.Invoke(ctx, []byte(`{"op":"log"}`)); err != nil {
		t.Fatal(err)
	}
	line := rec.waitFor(t, "of the invocation", func(m map[string]string) bool { return m["msg"] == "lambda: invocation" })
	if line["level"] != "INFO" || line["function"] != "log-fn" || line["outcome"] != "ok" || line["route"] != "sendmessage" ||
		line["connectionId"] != "abc=" || len(line["requestId"]) != 36 || line["initDuration"] == "" || line["duration"] == "" {
		t.Fatalf("invocation line: %v", line)
	}
	id := line["requestId"]
	for _, want := range []struct{ msg, level string }{
		{"hello from node\nsecond line", "INFO"},
		{"careful: 42", "WARN"},
		{"bad { a: 1 }", "ERROR"},
		{"details", "DEBUG"},
	} {
		m := rec.waitFor(t, fmt.Sprintf("%q", want.msg), func(m map[string]string) bool { return m["msg"] == want.msg })
		if m["level"] != want.level || m["requestId"] != id || m["function"] != "log-fn" || m["stream"] != "stdout" {
			t.Errorf("record %v, want level %s, request_id %s", m, want.level, id)
		}
	}
	// Output that is not the console's is logged as it is, with the
	// invocation it was written in.
	if m := rec.waitFor(t, "of the raw write", func(m map[string]string) bool { return m["msg"] == "raw stdout line" }); m["level"] != "INFO" || m["requestId"] != id {
		t.Errorf("raw line: %v", m)
	}
	// A warm invocation has no init duration; an error's line says which.
	if _, err := invoke(t, fn, `{"op":"throwCustom","text":"no"}`); err == nil {
		t.Fatal("no error")
	}
	warm := rec.waitFor(t, "of the failed invocation", func(m map[string]string) bool {
		return m["msg"] == "lambda: invocation" && m["outcome"] == "ValidationError"
	})
	if _, ok := warm["initDuration"]; ok || warm["error"] != "no" || warm["route"] != "" {
		t.Errorf("warm failed invocation: %v", warm)
	}
}

// TestNodeLogsJSON: AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL, as
// a function's LoggingConfig sets them.
func TestNodeLogsJSON(t *testing.T) {
	t.Parallel()
	fn, rec := nodeFunction(t, "basic", "index.handler", lambda.Options{Env: map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}})
	if _, err := invoke(t, fn, `{"op":"log"}`); err != nil {
		t.Fatal(err)
	}
	line := rec.waitFor(t, "of the invocation", func(m map[string]string) bool { return m["msg"] == "lambda: invocation" })
	m := rec.waitFor(t, "of console.warn", func(m map[string]string) bool { return m["msg"] == "careful: 42" })
	if m["level"] != "WARN" || m["requestId"] != line["requestId"] {
		t.Errorf("console.warn: %v", m)
	}
	rec.waitFor(t, "of console.error", func(m map[string]string) bool { return m["msg"] == "bad { a: 1 }" && m["level"] == "ERROR" })
	if m := rec.find(func(m map[string]string) bool { return strings.HasPrefix(m["msg"], "hello from node") }); m != nil {
		t.Errorf("console.log below AWS_LAMBDA_LOG_LEVEL: %v", m)
	}
}

func TestInvocationLogProvided(t *testing.T) {
	t.Parallel()
	rec := newRecording()
	fn := newFunction(t, lambda.Options{Logger: slog.New(rec), FunctionName: "go-fn"})
	if _, err := invoke(t, fn, `{"op":"error","text":"Unauthorized"}`); err == nil {
		t.Fatal("no error")
	}
	m := rec.waitFor(t, "of the invocation", func(m map[string]string) bool { return m["msg"] == "lambda: invocation" })
	if m["outcome"] != "errorString" || m["error"] != "Unauthorized" || m["function"] != "go-fn" || m["initDuration"] == "" {
		t.Fatalf("invocation line: %v", m)
	}
}

// copyDir copies a fixture to a temporary directory (outside the
// repository, so that no node_modules above it can serve its imports).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestNodeWatch: a change to the code stops the idle instance at once; a
// busy one finishes its invocation with the old code and is not reused; the
// next invocation runs the new code.
func TestNodeWatch(t *testing.T) {
	t.Parallel()
	needNode(t)
	dir := t.TempDir()
	write := func(version string) {
		src := `const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = async (e) => {
  if (e.ms) { console.log('slow invocation started'); await sleep(e.ms); }
  return { version: '` + version + `', pid: process.pid };
};
`
		if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	os.MkdirAll(filepath.Join(dir, "node_modules", "dep"), 0o755)
	fn, rec := nodeFunction(t, dir, "index.handler", lambda.Options{Watch: true, Concurrency: 2, Timeout: 10 * time.Second})
	type answer struct {
		Version string
		PID     int
	}
	get := func(payload string) answer {
		t.Helper()
		out, err := invoke(t, fn, payload)
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		json.Unmarshal(out, &a)
		return a
	}
	// Two instances.
	var wg sync.WaitGroup
	var a, b answer
	wg.Go(func() { a = get(`{"ms":800}`) })
	wg.Go(func() { b = get(`{"ms":800}`) })
	wg.Wait()
	if a.Version != "v1" || b.Version != "v1" || a.PID == b.PID {
		t.Fatalf("two instances: %+v %+v", a, b)
	}
	// A change under node_modules is not a change of the code.
	os.WriteFile(filepath.Join(dir, "node_modules", "dep", "index.js"), []byte("x"), 0o644)
	// One busy with a slow invocation, the other idle.
	slow := make(chan answer, 1)
	go func() { slow <- get(`{"ms":2500}`) }()
	rec.waitFor(t, "of the slow invocation", func(m map[string]string) bool { return m["msg"] == "slow invocation started" })
	busy, idle := a.PID, b.PID // which is which is found out below
	write("v2")
	// The idle instance stops while the busy one still works.
	testutil.Eventually(t, 3*time.Second, func() bool { return !alive(busy) || !alive(idle) }, "an instance stopped")
	if !alive(busy) && alive(idle) {
		busy, idle = idle, busy
	}
	select {
	case s := <-slow:
		t.Fatalf("the slow invocation ended (%+v) before the idle instance stopped", s)
	default:
	}
	if !alive(busy) {
		t.Fatal("the busy instance was stopped during its invocation")
	}
	s := <-slow
	if s.Version != "v1" || s.PID != busy {
		t.Fatalf("slow invocation: %+v, want v1 from %d", s, busy)
	}
	next := get(`{}`)
	if next.Version != "v2" || next.PID == busy || next.PID == idle {
		t.Fatalf("after the change: %+v (old pids %d %d)", next, busy, idle)
	}
	waitGone(t, busy, 3*time.Second)
	if rec.find(func(m map[string]string) bool { return strings.HasPrefix(m["msg"], "lambda: code changed") }) == nil {
		t.Error("no log line of the change")
	}
}

func TestProvidedWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	b, err := os.ReadFile(echoBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// CodeDir alone: the executable is CodeDir/bootstrap, as on Lambda.
	fn, err := lambda.New(lambda.Options{CodeDir: dir, Watch: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(context.Background())
	first := getInfo(t, fn)
	if first.Cwd != dir {
		t.Fatalf("cwd %s, want %s", first.Cwd, dir)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	waitGone(t, first.PID, 3*time.Second)
	if next := getInfo(t, fn); next.PID == first.PID {
		t.Fatalf("same pid %d after the change", next.PID)
	}
}
