package lambda_test

import (
	"context"
	"testing"

	"github.com/switchboard-ws/switchboard/integration/lambda"
)

// BenchmarkInvokeWarm measures one invocation on a warm instance: the
// Runtime API round trip through aws-lambda-go.
func BenchmarkInvokeWarm(b *testing.B) {
	fn, err := lambda.New(lambda.Options{Path: echoBin, Logger: quiet, Concurrency: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close(context.Background())
	payload := []byte(`{"op":"echo","body":"hello"}`)
	if _, err := fn.Invoke(context.Background(), payload); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := fn.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvokeWarmParallel runs invocations from many goroutines on 4
// instances.
func BenchmarkInvokeWarmParallel(b *testing.B) {
	fn, err := lambda.New(lambda.Options{Path: echoBin, Logger: quiet, Concurrency: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close(context.Background())
	payload := []byte(`{"op":"echo","body":"hello"}`)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := fn.Invoke(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkColdStart measures an invocation on a new instance: process
// start, the runtime's init up to its first /next, and the invocation.
func BenchmarkColdStart(b *testing.B) {
	payload := []byte(`{"op":"echo"}`)
	for b.Loop() {
		fn, err := lambda.New(lambda.Options{Path: echoBin, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fn.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fn.Close(context.Background())
		b.StartTimer()
	}
}
