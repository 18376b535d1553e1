package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/config"
)

// TestDecodingStartsNothing: decoding a file (or a template) with lambda
// integrations of both kinds and queues starts no goroutine and runs no
// process — not even node --version; Build makes the functions (finding
// node), starts the queues and the code watchers; an invocation starts an
// instance; Close stops all of it.
func TestDecodingStartsNothing(t *testing.T) {
	// Not parallel: PATH names a fake node, and goroutines are counted
	// (the package's parallel tests wait meanwhile).
	bin := echoBootstrap(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started") // a line per process of a function or of node
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+filepath.Base(name)+" >> "+started+"\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bootstrap := script("bootstrap", "exec "+bin+` "$@"`)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	script("bin/node", "echo v20.0.0")
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := filepath.Join(dir, "code")
	os.MkdirAll(code, 0o755)
	os.WriteFile(filepath.Join(code, "index.js"), []byte("exports.handler = async () => ({statusCode: 200})\n"), 0o644)
	starts := func() string {
		b, _ := os.ReadFile(started)
		return strings.Join(strings.Fields(string(b)), " ")
	}

	lambdaIn := "{type: lambda, path: " + bootstrap + ", handler: echo}"
	doc := "stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n" +
		"  $default: {integration: " + lambdaIn + "}\n" +
		"  node: {integration: {type: lambda, runtime: nodejs20.x, codeUri: " + code + ", handler: index.handler}}\n" +
		"queues:\n  jobs: {integration: " + lambdaIn + "}\n  more: {integration: " + lambdaIn + "}\n"

	before := runtime.NumGoroutine()
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := config.LoadTemplate(samGo(t), config.TemplateOptions{StackName: "s1", GatewayURL: "http://127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("decoding started goroutines: %d before, %d after", before, n)
	}
	if s := starts(); s != "" {
		t.Fatalf("decoding ran processes: %s", s)
	}
	if len(tpl.File.Queues) != 1 {
		t.Fatalf("template queues %+v", tpl.File.Queues)
	}

	ctx := t.Context()
	rt, err := f.Build(ctx, config.BuildEnv{Watch: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("after Build %d goroutines, before %d: the queues' workers and the watchers run", n, before)
	}
	if s := starts(); s != "node" {
		t.Fatalf("Build ran %q; want node (its version), and no function before an invocation", s)
	}
	if rt.Queue("jobs") == nil || rt.Queue("more") == nil || rt.QueueAPI(quiet) == nil {
		t.Fatal("queues not built")
	}
	inv, err := rt.Invoker(f.Routes["$default"].Integration)
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.GatewayOptions().Routes) != 2 {
		t.Fatalf("routes %+v", rt.GatewayOptions().Routes)
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := inv.Invoke(ictx, []byte(`{"op":"info"}`))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ PID int }
	if err := json.Unmarshal(out, &info); err != nil || info.PID == 0 {
		t.Fatalf("info %s: %v", out, err)
	}
	if s := starts(); s != "node bootstrap" {
		t.Fatalf("processes %q; want the function's instance after node", s)
	}

	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(info.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the instance (pid %d) outlived Close: %v", info.PID, err)
	}
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before }, "the goroutines Build started to end")
	if _, err := rt.Invoker(f.Routes["$default"].Integration); err == nil {
		t.Error("Invoker after Close made a function")
	}
	if err := rt.Close(ctx); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// TestBuildFailureStopsWhatItStarted: when Build fails part way (here: no
// node on PATH for a Node.js function, which decoding does not look
// for), the queues and functions it made are stopped before it returns.
func TestBuildFailureStopsWhatItStarted(t *testing.T) {
	bin := echoBootstrap(t)
	code := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	doc := "stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n" +
		"  $default: {integration: {type: lambda, runtime: nodejs20.x, codeUri: " + code + ", handler: index.handler}}\n" +
		"queues:\n  jobs: {integration: {type: lambda, path: " + bin + "}}\n"
	before := runtime.NumGoroutine()
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("decoding looked for node: %v", err)
	}
	_, err = f.Build(t.Context(), config.BuildEnv{Watch: true, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "routes.$default.integration: path: lambda: nodejs20.x: node is not on PATH") {
		t.Fatalf("Build without node: %v", err)
	}
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before }, "the goroutines of a failed Build to end")
}

// eventually polls cond until it holds, or fails the test after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
