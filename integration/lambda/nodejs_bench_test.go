package lambda_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/switchboard-ws/switchboard/integration/lambda"
)

// Node.js functions through the Runtime API, beside direct node calls of the
// same handler (testdata/node/basic, index.handler, op echo). Run with
//
//	go test ./integration/lambda -run '^$' -bench Node -benchtime 2s

var nodeBenchPayload = []byte(`{"op":"echo","body":"hello"}`)

func newNodeBench(b *testing.B, handler string, concurrency int) *lambda.Function {
	b.Helper()
	needNode(b)
	fn, err := lambda.New(lambda.Options{Runtime: "nodejs20.x", CodeDir: filepath.Join(nodeTestdata, "basic"), Handler: handler,
		Logger: quiet, Concurrency: concurrency, NodeSDKDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return fn
}

// BenchmarkNodeColdStart: a new instance per invocation: node's start, the
// runtime client, loading the handler, the first /next and the invocation.
func BenchmarkNodeColdStart(b *testing.B) {
	for _, c := range []struct{ name, handler string }{{"commonjs", "index.handler"}, {"esmodule", "app.handler"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				fn := newNodeBench(b, c.handler, 1)
				if _, err := fn.Invoke(context.Background(), nodeBenchPayload); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fn.Close(context.Background())
				b.StartTimer()
			}
		})
	}
}

// BenchmarkNodeInvokeWarm: one invocation on a warm instance.
func BenchmarkNodeInvokeWarm(b *testing.B) {
	fn := newNodeBench(b, "index.handler", 1)
	defer fn.Close(context.Background())
	if _, err := fn.Invoke(context.Background(), nodeBenchPayload); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := fn.Invoke(context.Background(), nodeBenchPayload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNodeInvokeWarmParallel: invocations from many goroutines on 2
// instances (the machine's cores).
func BenchmarkNodeInvokeWarmParallel(b *testing.B) {
	fn := newNodeBench(b, "index.handler", 2)
	defer fn.Close(context.Background())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := fn.Invoke(context.Background(), nodeBenchPayload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkNodeDirectInProcess: the handler called in one node process,
// b.N times (the event copied each time, as a JSON round trip): what an
// invocation costs without the Runtime API. ns/op is node's measurement of
// the calls alone.
func BenchmarkNodeDirectInProcess(b *testing.B) {
	needNode(b)
	script, _ := filepath.Abs(filepath.Join(nodeTestdata, "bench", "direct.cjs"))
	handler, _ := filepath.Abs(filepath.Join(nodeTestdata, "basic", "index.js"))
	out, err := exec.Command("node", script, handler, strconv.Itoa(b.N)).Output()
	if err != nil {
		b.Fatal(err)
	}
	ns, err := strconv.ParseFloat(string(out), 64)
	if err != nil {
		b.Fatalf("%s: %v", out, err)
	}
	b.ReportMetric(ns/float64(b.N), "ns/op")
}

// BenchmarkNodeDirectCold: a new node process per call: node -e that
// requires the handler and calls it once.
func BenchmarkNodeDirectCold(b *testing.B) {
	needNode(b)
	dir := filepath.Join(nodeTestdata, "basic")
	const script = `require('./index.js').handler({op:'echo',body:'hello'}, {}).then((r) => process.stdout.write(JSON.stringify(r)))`
	for b.Loop() {
		cmd := exec.Command("node", "-e", script)
		cmd.Dir = dir
		if out, err := cmd.Output(); err != nil || len(out) == 0 {
			b.Fatalf("%s %v", out, err)
		}
	}
}
